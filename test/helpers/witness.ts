/**
 * What a child pushcheck's loop witness (loop-witness.cjs, runCli's `witness` option) saw, and the allowances a test
 * may take from it. A test that runs the CLI as a process cannot watch the child's event loop itself, and the
 * child's own stall watch (src/run/stall.ts) is the code under test: these figures come from a tick of the
 * witness's own and the kernel's run queue instead, so a starved child is allowed for only where it really stood
 * still, and never where it did not.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Result } from '../../src/types.js';
import type { CliRun } from './cli.js';

export interface LoopWitness {
  /** The longest single stall of the loop (a tick's lateness beyond its 10 ms), ms. */
  longestStallMs: number;
  /**
   * Every stall added up, ms: the witness's own 10 ms tick, each lateness beyond 5 ms counted whole (stall.ts counts
   * beyond 15 ms: what the child claims to have stood still should never exceed this).
   */
  totalStallMs: number;
  /** ms the process's main thread waited for a CPU since its exec (Linux's schedstat); undefined where not told. */
  runQueueMs?: number;
}

const LOOP_WITNESS = fileURLToPath(new URL('./loop-witness.cjs', import.meta.url));

/** A witness for one child process: how to start it with one, and what it saw once the child exited. */
export interface WitnessFile {
  /** Node's options that preload it (before the script). */
  nodeArgs: string[];
  /** The child's environment needs these too: the file the witness writes to. */
  env: { PUSHCHECK_TEST_LOOP_WITNESS: string };
  /** After the child's exit: what the witness wrote (the file is then removed), or undefined where it wrote nothing. */
  collect(): LoopWitness | undefined;
}

/** A witness file of its own for a child about to start (runCli's `witness`, test/serve/process.ts). */
export function prepareWitness(): WitnessFile {
  const file = path.join(os.tmpdir(), `pushcheck-witness-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  return {
    nodeArgs: ['-r', LOOP_WITNESS],
    env: { PUSHCHECK_TEST_LOOP_WITNESS: file },
    collect() {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as LoopWitness;
      } catch {
        return undefined; // killed before its exit: no figures, so no allowance from them
      } finally {
        rmSync(file, { force: true });
      }
    },
  };
}

/** The witness's figures of `run`; fails the test where the child left none (it was killed before its exit). */
export function witnessOf(run: CliRun): LoopWitness {
  expect(run.witness, 'the child wrote no loop witness (killed before its exit?)').toBeDefined();
  return run.witness!;
}

/** One line for a test's log: what the witness saw. */
export function describeWitness(witness: LoopWitness): string {
  const queue = witness.runQueueMs === undefined ? 'not told' : `${Math.round(witness.runQueueMs)} ms`;
  return `child's loop: longest stall ${Math.round(witness.longestStallMs)} ms, ${Math.round(witness.totalStallMs)} ms in all; waited for a CPU ${queue}`;
}

/** How far a result's time may pass its timeout on a quiet machine: a timer's slack. */
export const TIMER_SLACK_MS = 200;

/**
 * Holds a child's result to its timeout plus TIMER_SLACK_MS, plus the longest stall the child's witness saw: a timer
 * held by a stall fires that much late.
 */
export function expectWithinTimeout(result: Result, timeoutMs: number, witness: LoopWitness): void {
  expect(result.timings.totalMs, `${result.rule} ${result.host}:${result.port}; ${describeWitness(witness)}`).toBeLessThanOrEqual(
    timeoutMs + TIMER_SLACK_MS + witness.longestStallMs,
  );
}
