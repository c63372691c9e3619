// The 1,000 loopback listeners of cli.bench.js's TCP run (the addresses on the command line × 100 ports), in a
// process of their own, as under hyperfine: served from the process that also timed the runs, they made nmap's
// connects wait on that process's event loop (nmap +24 ms, pushcheck +19 ms, medians of 31, interleaved, load 5),
// which flattered pushcheck's ratio. Each connection is ended at once. The parent asks after a run and gets
// how many connects there were and when the first and the last came, as performance.timeOrigin + performance.now()
// (milliseconds since the epoch, sub-millisecond), comparable with the parent's own clock that way. The parent sends
// { take: n }, the number of connects the run should have made, and gets its answer once they are all in (see below).
import net from 'node:net';

const addresses = process.argv.slice(2);
let count = 0;
let first = Infinity;
let last = -Infinity;
const record = (socket) => {
  const now = performance.now();
  count += 1;
  if (now < first) first = now;
  if (now > last) last = now;
  socket.on('error', () => undefined);
  socket.end();
};
const servers = [];
const listen = (port, host) =>
  new Promise((resolve, reject) => {
    const server = net.createServer(record);
    servers.push(server);
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });

const ports = [];
for (let i = 0; i < 100; i += 1) ports.push(await listen(0, addresses[0]));
for (const address of addresses.slice(1)) for (const port of ports) await listen(port, address);
// How long 'take' waits for connects still on their way: the kernel completes a loopback connect before this process
// accepts it, and on a starved machine the parent's 'take' could come first, so that one run's count read short and
// the next's long.
const TAKE_WAIT_MS = 2000;
process.on('message', (message) => {
  if (typeof message?.take !== 'number') return;
  const asked = performance.now();
  const answer = () => {
    if (count < message.take && performance.now() - asked < TAKE_WAIT_MS) return void setTimeout(answer, 5);
    process.send({ count, first: performance.timeOrigin + first, last: performance.timeOrigin + last });
    [count, first, last] = [0, Infinity, -Infinity];
  };
  answer();
});
// The bench closes the channel when it is done (or dies): close every listener and end.
process.on('disconnect', () => {
  for (const server of servers) server.close();
});
process.send({ ports });
