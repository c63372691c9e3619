// Starts a server that says nothing once it listens (microsocks, tinyproxy) and prints "ready" once host:port accepts
// a connection, for FaultNetwork.runInServer (test/faults/netns.ts), which waits for a line:
//   node test/helpers/when-listening.mjs <host> <port> <command> [args...]
// Exits with the command; on SIGTERM or SIGINT it kills the command first. Node built-ins only (runs in a namespace).
import { spawn } from 'node:child_process';
import net from 'node:net';

const [host, port, command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.once('exit', (code) => process.exit(code ?? 1));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    child.kill('SIGKILL');
    process.exit(0);
  });
}

// Tried every 25 ms until it connects; runInServer gives up (and close() kills this) after its own time.
const tryConnect = () => {
  const socket = net.connect({ host, port: Number(port) }, () => {
    socket.destroy();
    process.stdout.write('ready\n');
  });
  socket.once('error', () => setTimeout(tryConnect, 25));
};
tryConnect();
