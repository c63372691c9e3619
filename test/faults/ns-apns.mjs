// The harness's mock APNs for tests that need it inside a network namespace:
//   ip netns exec NS node ns-apns.mjs <address> <ports> cert.pem key.pem ca.pem
// <ports> is a comma-separated list. Loads the built harness (dist/), as the fault tests run the built CLI.
// The harness listens on loopback only, by design: each port of <address> is a plain TCP pipe to it, so the
// TLS and HTTP/2 conversation is the harness's own, end to end.
// Prints "ready" once every port listens; exits on SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import net from 'node:net';

const [address, portList, certFile, keyFile, caFile] = process.argv.slice(2);
if (!address || !portList || !certFile || !keyFile || !caFile) {
  process.stderr.write('usage: ns-apns.mjs <address> <ports> cert.pem key.pem ca.pem\n');
  process.exit(2);
}
const dist = new URL('../../dist/', import.meta.url);
const { startApnsServer } = await import(new URL('harness/services/apns-http.js', dist).href);
const { ApnsService } = await import(new URL('harness/services/apns.js', dist).href);
const { VirtualClock } = await import(new URL('harness/clock.js', dist).href);

const [cert, key, ca] = [certFile, keyFile, caFile].map((file) => readFileSync(file, 'utf8'));
const service = new ApnsService({ clock: new VirtualClock() });
const apns = await startApnsServer({ service, host: '127.0.0.1', cert, key, ca });
const pipes = [];
for (const port of portList.split(',').map(Number)) {
  const pipe = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: apns.port });
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
      from.pipe(to);
    }
  });
  await new Promise((resolve, reject) => {
    pipe.once('error', reject);
    pipe.listen({ host: address, port }, resolve);
  });
  pipes.push(pipe);
}
const stop = async () => {
  for (const pipe of pipes) pipe.close();
  await apns.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write('ready\n');
