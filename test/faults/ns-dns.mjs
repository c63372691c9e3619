// The DNS server of a namespace's /etc/resolv.conf, run inside that namespace on 127.0.0.1:53 (the demo's server,
// src/demo/dns-server.ts, from dist/), and a TCP port that accepts:
//   ip netns exec NS node ns-dns.mjs <answer|silent> <delayMs> <name,name,...> <tcpPort>
// Every name has A 127.0.0.1 and no AAAA. Prints "ready", then "query <name> <type>" for each query it gets.
// Exits on SIGTERM, SIGINT, or when stdin closes, so a test process that dies takes it with it.
import net from 'node:net';

const { startDnsServer } = await import('../../dist/demo/dns-server.js');
const [mode, delay, names, tcpPort] = process.argv.slice(2);
const records = Object.fromEntries(names.split(',').map((name) => [name, { A: ['127.0.0.1'] }]));
const dns = await startDnsServer({ records, port: 53, mode, delayMs: Number(delay) });
const seen = dns.queries.push.bind(dns.queries);
dns.queries.push = (...queries) => {
  for (const q of queries) process.stdout.write(`query ${q.name} ${q.type}\n`);
  return seen(...queries);
};
const server = net.createServer((socket) => socket.on('error', () => undefined)).listen(Number(tcpPort), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
process.stdout.write('ready\n');

const stop = () => {
  server.close();
  void dns.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop).resume();
