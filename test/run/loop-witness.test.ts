// test/helpers/loop-witness.cjs is the evidence every starved-child allowance rests on (witness.ts, netns.ts): it
// must see a stall that happened, and must not see one where the child's loop was free (an idle child's lateness can
// only be its wait for a CPU, which the kernel's run queue tells).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoopWitness } from '../helpers/witness.js';

const LOOP_WITNESS = fileURLToPath(new URL('../helpers/loop-witness.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-witness-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `code` in a Node child with the witness preloaded; what the witness wrote at the child's exit. */
function witnessed(name: string, code: string): LoopWitness {
  const file = path.join(dir, `${name}.json`);
  const child = spawnSync(process.execPath, ['-r', LOOP_WITNESS, '-e', code], { env: { ...process.env, PUSHCHECK_TEST_LOOP_WITNESS: file }, encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(readFileSync(file, 'utf8')) as LoopWitness;
}

describe('the loop witness of a child pushcheck', () => {
  it('sees a loop held for 300 ms as a stall of about that long', () => {
    // The block starts after two ticks of the witness, and lasts 300 ms of wall time however starved the child is.
    const seen = witnessed('blocked', 'setTimeout(() => { const end = performance.now() + 300; while (performance.now() < end); setTimeout(() => {}, 30); }, 25);');
    expect(seen.longestStallMs).toBeGreaterThanOrEqual(280);
    expect(seen.totalStallMs).toBeGreaterThanOrEqual(seen.longestStallMs);
  });

  it('sees no stall in an idle child beyond what it waited for a CPU', () => {
    const seen = witnessed('idle', 'setTimeout(() => {}, 300);');
    // Linux tells the run-queue wait (schedstat); an idle loop late by more than that and a tick's jitter was not late.
    expect(seen.runQueueMs, 'no /proc/self/schedstat here').toBeTypeOf('number');
    expect(seen.longestStallMs).toBeLessThanOrEqual(seen.runQueueMs! + 50);
  });
});
