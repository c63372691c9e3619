/**
 * A real MQTT broker for tests: Debian's mosquitto, started with a TLS listener on 127.0.0.1 and stopped by the
 * test. `mosquittoMissing()` says why it cannot run here (the tests print it, or fail under CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { CertificatePem } from '../../src/harness/certs.js';
import { diesWithParent, diesWithParentUnavailable } from './dies-with-parent.mjs';
import { closedPort } from './servers.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function mosquittoMissing(): string | undefined {
  return existsSync(MOSQUITTO) ? undefined : `${MOSQUITTO} not found (apt-get install mosquitto)`;
}

/**
 * mosquittoMissing() for a test file that skips `what` without it, or without setpriv (startMosquitto starts it through
 * diesWithParent): under CI it throws (the file fails to load and is counted as failed), elsewhere it prints that
 * `what` is skipped and why; returns the reason, or undefined.
 */
export function mosquittoSkip(what: string): string | undefined {
  const missing = mosquittoMissing() ?? diesWithParentUnavailable();
  if (missing) {
    if (process.env.CI) throw new Error(`CI needs mosquitto: ${missing}`);
    console.log(`${what} skipped: ${missing}`);
  }
  return missing;
}

export interface Broker {
  port: number;
  /** What mosquitto logged so far. */
  log(): string;
  /** SIGTERM, waits for the exit, removes its files. */
  stop(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts mosquitto with a TLS listener of `leaf` on 127.0.0.1; resolves once it accepts connections (10 s at most). */
export async function startMosquitto(leaf: CertificatePem, options: { anonymous: boolean }): Promise<Broker> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-mqtt-'));
  writeFileSync(path.join(dir, 'cert.pem'), leaf.cert, { mode: 0o644 });
  writeFileSync(path.join(dir, 'key.pem'), leaf.key, { mode: 0o644 });
  const port = await closedPort();
  const config = [
    // As root, mosquitto drops to the mosquitto user unless told otherwise; it must still read the files above.
    'user root',
    'persistence false',
    'log_dest stderr',
    `listener ${port} 127.0.0.1`,
    `certfile ${path.join(dir, 'cert.pem')}`,
    `keyfile ${path.join(dir, 'key.pem')}`,
    `allow_anonymous ${options.anonymous}`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'mosquitto.conf'), config);
  let log = '';
  // Dies with the test process, however that ends (a signal runs no 'exit' handler).
  const broker: ChildProcess = spawn(...diesWithParent(MOSQUITTO, ['-c', path.join(dir, 'mosquitto.conf')]), { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  broker.stdout?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const stop = async (): Promise<void> => {
    if (broker.exitCode === null && broker.signalCode === null) {
      const exited = new Promise((resolve) => broker.once('exit', resolve));
      broker.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200 && !(await listening(port)); i += 1) {
    if (broker.exitCode !== null) {
      await stop();
      throw new Error(`mosquitto exited: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(await listening(port))) {
    await stop();
    throw new Error(`mosquitto did not listen within 10 s: ${log}`);
  }
  return { port, log: () => log, stop };
}
