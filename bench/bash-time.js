// Wall and CPU time of one run as bash takes them around fork and wait, as hyperfine does: $EPOCHREALTIME before
// and after, and `times` (the child's user and system CPU from getrusage, to the millisecond). Node cannot see a
// child's CPU time, GNU time prints it in hundredths cut off (nmap's 50 ms read as 40), and a wall time taken by
// Node from spawn to 'exit' also holds the fork of a large process and the wait for its event loop.
// The child's minor page faults come the same way, after the clock has stopped: bash's own /proc/<pid>/stat, whose
// cminflt counts the faults of the children it has waited for (as getrusage's RUSAGE_CHILDREN, which GNU time's %R
// reads); GNU time in the timed span would add its own exec to the wall time. Without /proc the line is empty.
// Run as: bash -c MEASURE bash STDOUT_FILE command args... (stderr passes through; the command's exit code is bash's).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const MEASURE =
  'o=$1; shift; s=$EPOCHREALTIME; "$@" >"$o"; c=$?; e=$EPOCHREALTIME; times; { read -r f </proc/$$/stat; } 2>/dev/null; echo "$f"; echo "$s $e"; exit $c';

const seconds = (text) => Number(/^(\d+)m([\d.,]+)s$/.exec(text)?.slice(1).reduce((m, s) => Number(m) * 60 + Number(s.replace(',', '.'))));

/** { wallMs, cpuMs, minorFaults, startEpochMs, endEpochMs } from the last four lines MEASURE printed (epoch: since
 * 1970, as performance.timeOrigin + performance.now() counts; minorFaults NaN without /proc). */
export function measured(stdout) {
  const [, children, stat, span] = stdout.trim().split('\n').slice(-4);
  const [user, system] = children.split(' ').map(seconds);
  const [start, end] = span.split(' ').map((s) => Number(s.replace(',', '.')));
  // proc(5): the fields after "(comm)" start at the third, state; cminflt is the eleventh.
  const minorFaults = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11 - 3]) : NaN;
  return { wallMs: (end - start) * 1000, cpuMs: (user + system) * 1000, minorFaults, startEpochMs: start * 1000, endEpochMs: end * 1000 };
}

/** Runs a command to its end; wall time from spawn to exit, and when it exited (performance.now()). */
export function timed(command, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ended = performance.now();
      resolve({ code, wallMs: ended - started, started, ended, stdout, stderr });
    });
  });
}

export const bashFound = spawnSync('bash', ['-c', 'times']).status === 0;

/**
 * Like timed(), with wallMs, cpuMs (user + system) and minorFaults as bash takes them around the run (MEASURE),
 * startedMs and endedMs (when the command started and ended, on performance.now()'s clock), and the command's stdout
 * written to stdoutFile, as `> report.json` would, for every command alike: a pipe read by this process made the
 * writer wait on this process's event loop. Without bash: Node's spawn to exit, cpuMs and minorFaults NaN.
 */
export async function timedCpu(command, args, env, stdoutFile) {
  if (!bashFound) {
    const run = await timed(command, args, env);
    return { ...run, cpuMs: NaN, minorFaults: NaN, startedMs: run.started, endedMs: run.ended };
  }
  const run = await timed('bash', ['-c', MEASURE, 'bash', stdoutFile, command, ...args], env);
  const { wallMs, cpuMs, minorFaults, startEpochMs, endEpochMs } = measured(run.stdout);
  const [startedMs, endedMs] = [startEpochMs - performance.timeOrigin, endEpochMs - performance.timeOrigin];
  return { ...run, wallMs, cpuMs, minorFaults, startedMs, endedMs, stdout: readFileSync(stdoutFile, 'utf8') };
}
