// The demo's DNS server (src/demo/dns-server.ts, from dist/) in a process of its own, for tests that make their own
// event loop stand still on purpose: its answers leave on time whatever the test's loop does (run in the test's
// process, a stall would hold its answers back too).
//   node test/helpers/late-dns.mjs <host> <answer|silent> <delayMs> <records JSON>
// Prints "ready <port>", then "sent <ms>" as each delayed answer leaves (performance.timeOrigin + performance.now(),
// which the test compares with its own: on a busy machine this process's timer, too, may fire late). Exits on
// SIGTERM, or when stdin closes, so a test process that dies takes it with it.
const { startDnsServer } = await import('../../dist/demo/dns-server.js');
const [host, mode, delay, records] = process.argv.slice(2);
const delayMs = Number(delay);
// The server delays its answers with setTimeout(send, delayMs): each such callback says when it ran.
const setTimer = globalThis.setTimeout;
globalThis.setTimeout = (callback, ms, ...args) =>
  setTimer(() => {
    callback(...args);
    if (ms === delayMs) process.stdout.write(`sent ${performance.timeOrigin + performance.now()}\n`);
  }, ms);
const dns = await startDnsServer({ host, mode, delayMs, records: JSON.parse(records) });
process.stdout.write(`ready ${dns.port}\n`);
const stop = () => void dns.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop).resume();
