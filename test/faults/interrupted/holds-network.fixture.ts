/**
 * Run by test/faults/interrupted.test.ts in a vitest of its own, which it then interrupts: makes a fault network (an
 * nftables drop rule and a server in it, createDroppingNetwork) with microsocks started through when-listening.mjs
 * beside them, as proxy.test.ts starts its proxies there; writes what it made to PUSHCHECK_HELD_FILE, and waits.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { microsocksArgs } from '../../helpers/proxies.js';
import { createDroppingNetwork, namespacePids, SERVER_ADDRESS } from '../netns.js';

const WHEN_LISTENING = fileURLToPath(new URL('../../helpers/when-listening.mjs', import.meta.url));
const SOCKS_PORT = 7081;

it('holds a fault network until it is interrupted', { timeout: 120_000 }, async () => {
  const net = await createDroppingNetwork({ dropped: 7003 });
  try {
    const microsocks = ['microsocks', ...microsocksArgs(SERVER_ADDRESS, SOCKS_PORT)];
    await net.runInServer([process.execPath, WHEN_LISTENING, SERVER_ADDRESS, String(SOCKS_PORT), ...microsocks], /^ready$/m, 'microsocks');
    const held = { pid: process.pid, namespaces: [net.client, net.server], dir: net.dir, pids: [...namespacePids(net.client), ...namespacePids(net.server)] };
    writeFileSync(process.env.PUSHCHECK_HELD_FILE ?? '/dev/null', JSON.stringify(held));
    // Interrupted long before this ends (interrupted.test.ts gives up on it after 60 s).
    await new Promise((resolve) => setTimeout(resolve, 100_000));
  } finally {
    await net.close();
  }
});
