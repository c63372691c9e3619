// A preload (`node -r ./bench/first-connect.cjs bin/pushcheck.js …`) that prints, at the process's first socket
// connect, the time since the process started (performance.now()) and the CPU time of its main thread alone (from
// /proc: V8's background compile and GC threads do not delay the connect), on stderr:
//   first connect: 61.6 ms after start, main thread 63.3 ms CPU
// docs/contributing.md ("Start to first connect") compares builds with it, in the same rounds as `node -e 0`.
'use strict';
const fs = require('node:fs');
const net = require('node:net');

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function firstConnect(...args) {
  net.Socket.prototype.connect = connect;
  let cpuMs = NaN;
  try {
    cpuMs = Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    // not Linux: the wall time alone
  }
  fs.writeSync(2, `first connect: ${performance.now().toFixed(1)} ms after start, main thread ${cpuMs.toFixed(1)} ms CPU\n`);
  return connect.apply(this, args);
};
