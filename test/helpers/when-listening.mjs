// Starts a server that says nothing once it listens (microsocks, tinyproxy) and prints "ready" once host:port accepts
// a connection, for FaultNetwork.runInServer (test/faults/netns.ts), which waits for a line:
//   node test/helpers/when-listening.mjs <host> <port> <command> [args...]
// Prints `child <pid>` once the command is started. Exits with the command. The command never outlives this script,
// nor this script its parent, however either ends: on SIGTERM or SIGINT it kills the command first; if it is killed
// outright, the kernel kills the command (diesWithParent); and when its stdin is a pipe (runInServer's), its parent
// holds the other end, so stdin ends when the parent is gone (a crash, SIGKILL, a Ctrl-C to vitest), and so does this.
// Node built-ins and util-linux only (runs in a namespace).
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { diesWithParent } from './dies-with-parent.mjs';

const [host, port, command, ...args] = process.argv.slice(2);
const child = spawn(...diesWithParent(command, args), { stdio: ['ignore', 'inherit', 'inherit'] });
child.once('exit', (code) => process.exit(code ?? 1));
child.once('spawn', () => process.stdout.write(`child ${child.pid}\n`));
const stop = () => {
  child.kill('SIGKILL');
  process.exit(0);
};
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, stop);
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.once('end', stop);
  process.stdin.once('error', stop);
  process.stdin.resume();
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
