/**
 * --hold's proof and the look before its timeout (docs/timeouts.md, "The look before a timeout"): an answer to the
 * proof that came while the event loop stood still across the proof's deadline is read before the deadline is
 * declared, so a connection that held does not read idle_dropped; a far end that never answers still does.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { holdConnection } from '../../src/probes/hold.js';
import type { KeptConnection } from '../../src/probes/types.js';
import { startTcpServer } from '../helpers/servers.js';
import { busyFor } from '../helpers/starved.js';

const PROOF_TIMEOUT_MS = 200;

/** A kept connection to `server` whose proof is a line, answered by whatever the server writes back. */
function keep(client: net.Socket): KeptConnection {
  return {
    socket: client,
    prove: () => {
      client.write('ping\n');
      return new Promise((resolve) => client.once('data', (data) => resolve(`answered ${String(data).trim()}`)));
    },
    close: () => client.destroy(),
  };
}

describe.each(['127.0.0.1', '::1'])('a held connection’s proof (%s)', (loopback) => {
  it('an answer sent as the loop began to stand still across the proof’s deadline is read: answered, not idle_dropped', async () => {
    // The far end answers 100 ms after the proof, in a setImmediate that then keeps the loop still to 350 ms, across the
    // 200 ms deadline: libuv runs the timers due before it polls again. Before, the proof's timer fired first: dropped.
    let provedAt = 0;
    let answeredAfterMs: number | undefined;
    const server = await startTcpServer({
      host: loopback,
      onConnection: (socket) =>
        socket.once('data', () => {
          provedAt = performance.now();
          setTimeout(
            () =>
              setImmediate(() => {
                answeredAfterMs = performance.now() - provedAt;
                socket.write('pong\n');
                busyFor(provedAt + 350 - performance.now());
              }),
            100,
          );
        }),
    });
    const client = net.connect({ host: loopback, port: server.port });
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      const held = await holdConnection(keep(client), { idleMs: 10, timeoutMs: PROOF_TIMEOUT_MS, signal: new AbortController().signal, proof: 'a ping' });
      expect(answeredAfterMs, 'the far end answered').toBeDefined();
      // Only a far end whose own timer a busy machine made fire past the deadline answered late: then dropped is right.
      if (answeredAfterMs! < PROOF_TIMEOUT_MS - 20) expect([held.result.end, held.failure?.code], held.result.detail).toEqual(['answered', undefined]);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('a far end that never answers still reads idle_dropped, on a free loop and with a stall across the deadline', async () => {
    const server = await startTcpServer({ host: loopback });
    try {
      for (const stall of [false, true]) {
        const client = net.connect({ host: loopback, port: server.port });
        try {
          await new Promise((resolve) => client.once('connect', resolve));
          const kept = keep(client);
          const prove = kept.prove;
          kept.prove = () => {
            const sent = performance.now();
            if (stall) setTimeout(() => setImmediate(() => busyFor(sent + 350 - performance.now())), 100);
            return prove();
          };
          const held = await holdConnection(kept, { idleMs: 10, timeoutMs: PROOF_TIMEOUT_MS, signal: new AbortController().signal, proof: 'a ping' });
          expect([held.result.end, held.failure?.code], `stall ${stall}: ${held.result.detail}`).toEqual(['dropped', 'idle_dropped']);
        } finally {
          client.destroy();
        }
      }
    } finally {
      await server.close();
    }
  });
});
