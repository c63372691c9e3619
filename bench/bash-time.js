// Wall and CPU time of one run as bash takes them around fork and wait, as hyperfine does: $EPOCHREALTIME before
// and after, and `times` (the child's user and system CPU from getrusage, to the millisecond). Node cannot see a
// child's CPU time, GNU time prints it in hundredths cut off (nmap's 50 ms read as 40), and a wall time taken by
// Node from spawn to 'exit' also holds the fork of a large process and the wait for its event loop.
// Run as: bash -c MEASURE bash STDOUT_FILE command args... (stderr passes through; the command's exit code is bash's).
export const MEASURE = 'o=$1; shift; s=$EPOCHREALTIME; "$@" >"$o"; c=$?; e=$EPOCHREALTIME; times; echo "$s $e"; exit $c';

const seconds = (text) => Number(/^(\d+)m([\d.,]+)s$/.exec(text)?.slice(1).reduce((m, s) => Number(m) * 60 + Number(s.replace(',', '.'))));

/** { wallMs, cpuMs, startEpochMs, endEpochMs } from the last three lines MEASURE printed (epoch: since 1970, as
 * performance.timeOrigin + performance.now() counts). */
export function measured(stdout) {
  const [, children, span] = stdout.trim().split('\n').slice(-3);
  const [user, system] = children.split(' ').map(seconds);
  const [start, end] = span.split(' ').map((s) => Number(s.replace(',', '.')));
  return { wallMs: (end - start) * 1000, cpuMs: (user + system) * 1000, startEpochMs: start * 1000, endEpochMs: end * 1000 };
}
