/**
 * The run's deadlines on one timer (src/run/deadlines.ts): each fires once, never before its time, in the order of
 * their times whatever the order they were added in; a cancelled one never fires; no timer is left once nothing
 * is wanted, so that a finished run keeps no process alive; and a deadline that fell due while the loop stood still
 * fires only after the loop has read the input that came meanwhile.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../src/run/deadlines.js';
import { activeResources, addedOnceSettled } from '../helpers/active-resources.mjs';
import { startTcpServer } from '../helpers/servers.js';
import { busyFor } from '../helpers/starved.js';

/**
 * `ms`, then one turn of the loop: a deadline fires in a setImmediate after its timer (the look), so one that fell due
 * with the sleep's timer (a busy machine fires both late) has fired by then.
 */
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms)).then(() => new Promise((resolve) => setImmediate(resolve)));

describe('Deadlines', () => {
  it('fires each deadline once, not before its time, in the order of their times, added out of order', async () => {
    const deadlines = new Deadlines();
    const start = performance.now();
    const fired: { name: string; at: number; firedAt: number }[] = [];
    const add = (name: string, afterMs: number): void => {
      const at = start + afterMs;
      deadlines.add(at, () => fired.push({ name, at, firedAt: performance.now() }));
    };
    add('c', 120);
    add('a', 40);
    add('d', 160);
    add('b', 80);
    add('b2', 80);
    await sleep(300);
    expect(fired.map((entry) => entry.name)).toEqual(['a', 'b', 'b2', 'c', 'd']);
    for (const entry of fired) expect(entry.firedAt).toBeGreaterThanOrEqual(entry.at);
  });

  it('never fires a cancelled deadline, and fires the ones around it', async () => {
    const deadlines = new Deadlines();
    const start = performance.now();
    const fired: string[] = [];
    deadlines.add(start + 30, () => fired.push('first'));
    const cancelled = deadlines.add(start + 60, () => fired.push('cancelled'));
    deadlines.add(start + 90, () => fired.push('last'));
    deadlines.cancel(cancelled);
    deadlines.cancel(cancelled);
    await sleep(200);
    expect(fired).toEqual(['first', 'last']);
  });

  it('fires a deadline added while another fires (the watchdog after an attempt deadline), earlier ones first', async () => {
    const deadlines = new Deadlines();
    const start = performance.now();
    const fired: string[] = [];
    deadlines.add(start + 20, () => {
      fired.push('deadline');
      deadlines.add(performance.now() + 500, () => fired.push('watchdog'));
    });
    // Due between the deadline and its watchdog: the timer must not wait for the watchdog's time to fire it. The
    // watchdog comes 500 ms after, so that only a thread held up that long fires both at once (with 100 ms, a 70 ms
    // hold-up on a busy machine did, and failed a correct timer).
    deadlines.add(start + 60, () => fired.push('next attempt'));
    await sleep(80);
    expect(fired).toEqual(['deadline', 'next attempt']);
    await sleep(520);
    expect(fired).toEqual(['deadline', 'next attempt', 'watchdog']);
  });

  it('keeps no timer once every deadline has fired or been cancelled, and arms again for a new one', async () => {
    const before = activeResources();
    const deadlines = new Deadlines();
    const now = performance.now();
    const pending = Array.from({ length: 100 }, (_, i) => deadlines.add(now + 5_000 + i, () => undefined));
    expect(activeResources().get('Timeout') ?? 0).toBe((before.get('Timeout') ?? 0) + 1);
    for (const deadline of pending) deadlines.cancel(deadline);
    expect(await addedOnceSettled(before)).toEqual({});
    let fired = false;
    deadlines.add(performance.now() + 20, () => (fired = true));
    await sleep(80);
    expect(fired).toBe(true);
    expect(await addedOnceSettled(before)).toEqual({});
  });

  it('fires thousands of deadlines whose wanted ones come after many cancelled ones', async () => {
    const deadlines = new Deadlines();
    const start = performance.now();
    let fired = 0;
    const all = Array.from({ length: 3_000 }, (_, i) => deadlines.add(start + 10 + i / 100, () => (fired += 1)));
    // Every third stays wanted.
    all.forEach((deadline, i) => i % 3 !== 0 && deadlines.cancel(deadline));
    await sleep(150);
    expect(fired).toBe(1_000);
  });

  for (const loopback of ['127.0.0.1', '::1']) {
    it(`reads the input that came while the loop stood still before it fires a deadline that fell due then (${loopback})`, async () => {
      // The far end answers as the loop begins to stand still (from 50 ms to 300 ms, across the deadline at 200 ms, in a
      // setImmediate, where libuv then runs the timers due before it polls again): the answer waits in the kernel. It is
      // read in the look, and the deadline it cancels never fires. Before, the deadline fired first, at about 300 ms.
      let accepted: net.Socket | undefined;
      const server = await startTcpServer({ host: loopback, onConnection: (socket) => (accepted = socket) });
      const client = net.connect({ host: loopback, port: server.port });
      try {
        await new Promise((resolve) => client.once('connect', resolve));
        for (let turns = 0; accepted === undefined && turns < 100; turns += 1) await new Promise((resolve) => setTimeout(resolve, 1));
        const deadlines = new Deadlines();
        const start = performance.now();
        const fired: string[] = [];
        const deadline = deadlines.add(start + 200, () => fired.push('deadline'));
        client.once('data', () => {
          fired.push('answer');
          deadlines.cancel(deadline);
        });
        setTimeout(
          () =>
            setImmediate(() => {
              accepted?.write('answer');
              busyFor(start + 300 - performance.now());
            }),
          50,
        );
        await sleep(400);
        expect(fired).toEqual(['answer']);
      } finally {
        client.destroy();
        await server.close();
      }
    });
  }
});
