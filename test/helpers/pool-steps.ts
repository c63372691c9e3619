/**
 * Runs pool-steps.mjs (a list of connects made on one re-used socket of a SocketPool, and again on new sockets) and
 * checks what the tcp check's socket pool must keep: each step's verdict is the one new sockets give, the socket
 * comes back to the pool after every outcome and is the same one each time, and it carries nothing (listeners, an
 * open handle, a peer address) from one target to the next.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./pool-steps.mjs', import.meta.url));

export interface PoolStep {
  /** Names the step in assertion messages. */
  name: string;
  addresses: string[];
  port: number;
  timeoutMs: number;
  abortAfterMs?: number;
  abortPreviousAfterMs?: number;
  signalTimesOutAfterMs?: number;
  /** What both ways must give: ok, or a failure code and the address it records. */
  expect: { ok: true; address: string } | { ok: false; code: string; address?: string; message?: RegExp };
}

interface Verdict {
  ok: boolean;
  address?: string;
  code?: string;
  phase?: string;
  message?: string;
}

interface StepLine {
  pooled: Verdict;
  fresh: Verdict;
  pooledMs: number;
  freshMs: number;
  took: boolean;
  returned: boolean;
  listeners: Record<string, number>;
  idle: { destroyed: boolean; connecting: boolean; remoteAddress: string | null };
}

/** Runs `steps` with the built dist/ (`wrapper`: e.g. `ip netns exec NS`) and checks every step. */
export async function expectPoolParity(steps: PoolStep[], wrapper: string[] = []): Promise<void> {
  const input = JSON.stringify(steps.map(({ name: _name, expect: _expect, ...step }) => step));
  const [command, ...args] = [...wrapper, process.execPath, SCRIPT, input];
  const { stdout } = await run(command ?? process.execPath, args, { timeout: 60_000 });
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as StepLine);
  expect(lines).toHaveLength(steps.length);
  const firstListeners = lines[0]?.listeners;
  steps.forEach((step, i) => {
    const line = lines[i] as StepLine;
    const where = `step ${i + 1}, ${step.name}`;
    expect(line.pooled, where).toEqual(line.fresh);
    if (step.expect.ok) {
      expect(line.pooled, where).toEqual({ ok: true, address: step.expect.address });
    } else {
      expect(line.pooled, where).toMatchObject({ ok: false, code: step.expect.code, phase: 'connect' });
      if (step.expect.address) expect(line.pooled.address, where).toBe(step.expect.address);
      if (step.expect.message) expect(line.pooled.message, where).toMatch(step.expect.message);
    }
    // A stopped connect waits its whole time, no less (a timer or listener left by an earlier step would end it
    // sooner), and not much more.
    const timesOut = !step.expect.ok && step.expect.code.endsWith('_timeout');
    const waitMs = step.abortAfterMs ?? step.signalTimesOutAfterMs ?? (timesOut ? step.timeoutMs : undefined);
    if (waitMs !== undefined) {
      expect(line.pooledMs, where).toBeGreaterThanOrEqual(waitMs - 15);
      expect(line.pooledMs, where).toBeLessThan(waitMs + 1000);
    }
    // Step 1 makes the pool's socket; every later one starts on the socket the step before gave back.
    expect(line.took, `${where}: started on the pooled socket`).toBe(i > 0);
    expect(line.returned, `${where}: a socket came back to the pool`).toBe(true);
    expect(line.listeners, where).toEqual(firstListeners);
    expect(line.idle, where).toEqual({ destroyed: true, connecting: false, remoteAddress: null });
  });
  // The pool's own three, and Node's 'end' listener: nothing per target.
  expect(firstListeners).toMatchObject({ connect: 1, error: 1, close: 1, data: 0, timeout: 0 });
}
