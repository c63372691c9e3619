// A misbehaving server for the fault matrix, run inside a network namespace:
//   ip netns exec NS node ns-server.mjs <mode> <address> <ports> [cert.pem key.pem]
// <ports> is a list such as "7001" or "7100-7119,7200". Node built-ins only, so that it runs without the
// project's modules inside the namespace. Modes:
//   tls                      completes the handshake with the given certificate (fine, expired, wrong name,
//                            unknown CA: the certificate makes the fault) and holds the connection
//   plain-text               answers the ClientHello with an HTTP error page, as a proxy or captive portal would
//   silent                   accepts and reads, never writes
//   reset-after-clienthello  resets the connection (RST) when the first bytes (the ClientHello) arrive
// Prints "ready" on stdout once every port listens. Exits on SIGTERM, SIGINT, or when stdin closes, so a
// test process that dies takes its servers with it.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [mode, address, portList, certFile, keyFile] = process.argv.slice(2);
if (!mode || !address || !portList) {
  process.stderr.write('usage: ns-server.mjs <mode> <address> <ports> [cert.pem key.pem]\n');
  process.exit(2);
}

function parsePorts(text) {
  return text.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

const sockets = new Set();
function hold(socket) {
  sockets.add(socket);
  socket.on('error', () => undefined);
  socket.on('close', () => sockets.delete(socket));
}

function makeServer() {
  switch (mode) {
    case 'tls': {
      if (!certFile || !keyFile) throw new Error('mode tls needs cert.pem and key.pem');
      const server = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) => {
        socket.on('error', () => undefined);
        socket.resume();
        socket.on('end', () => socket.end());
      });
      server.on('connection', hold);
      server.on('tlsClientError', () => undefined);
      return server;
    }
    case 'plain-text':
      return net.createServer((socket) => {
        hold(socket);
        socket.once('data', () =>
          socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<h1>Blocked by policy</h1>\n'),
        );
      });
    case 'silent':
      return net.createServer((socket) => {
        hold(socket);
        socket.resume();
      });
    case 'reset-after-clienthello':
      return net.createServer((socket) => {
        hold(socket);
        socket.once('data', () => socket.resetAndDestroy());
      });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

const servers = [];
for (const port of parsePorts(portList)) {
  const server = makeServer();
  servers.push(server);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, resolve);
  });
}
process.stdout.write('ready\n');

function stop() {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
