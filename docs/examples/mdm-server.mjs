// A minimal MDM server, to be driven by `pushcheck harness --mdm-url` (docs/harness.md, "The whole loop").
//
//   node docs/examples/mdm-server.mjs HARNESS_JSON PORT
//
// PUT  /mdm        Apple's protocol: check-in messages (application/x-apple-aspen-mdm-checkin) and the command
//                  exchange (application/x-apple-aspen-mdm), property lists both ways
// POST /commands   {"udid", "RequestType", ...keys}: queue a command and push to the device through APNs
// GET  /commands   every command with the device's answer
//
// It pushes to the APNs of harness.json (the mock APNs) with the MDM push certificate harness.json names, as a real
// server pushes to api.push.apple.com with its own. Plain HTTP on loopback, to keep the example short: real devices
// only talk HTTPS (serve it with a certificate and pass its CA to the harness with --mdm-ca).
import http from 'node:http';
import http2 from 'node:http2';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { build, parse } from 'plist';

const [stateFile, port = '8443'] = process.argv.slice(2);
const harness = JSON.parse(readFileSync(stateFile, 'utf8'));
const apns = http2.connect(harness.apns.url, {
  ca: readFileSync(harness.ca),
  cert: readFileSync(harness.mdmPush.certificate),
  key: readFileSync(harness.mdmPush.key),
});

const devices = new Map(); // udid → { token, pushMagic }
const commands = []; // { udid, uuid, command, status, answer }

/** Wakes a device: a push with its PushMagic on the MDM topic. Resolves to APNs's status. */
function push(udid) {
  const device = devices.get(udid);
  if (!device) return Promise.resolve('device not enrolled yet: pushed at its TokenUpdate');
  return new Promise((resolve) => {
    const req = apns.request({ ':method': 'POST', ':path': `/3/device/${device.token}`, 'apns-topic': harness.mdmPush.topic, 'apns-push-type': 'mdm' });
    req.on('response', (headers) => resolve(headers[':status']));
    req.on('error', (err) => resolve(err.message));
    req.end(JSON.stringify({ mdm: device.pushMagic }));
    req.resume();
  });
}

function checkIn(message) {
  if (message.MessageType === 'TokenUpdate') {
    devices.set(message.UDID, { token: Buffer.from(message.Token).toString('hex'), pushMagic: message.PushMagic });
    if (commands.some((c) => c.udid === message.UDID && c.status === 'Queued')) push(message.UDID);
  }
  if (message.MessageType === 'CheckOut') devices.delete(message.UDID);
  return ''; // Authenticate, TokenUpdate, CheckOut: an empty 200
}

function connect(message) {
  const answered = commands.find((c) => c.uuid === message.CommandUUID);
  if (answered && message.Status !== 'Idle') {
    const { UDID, Status, CommandUUID, ...answer } = message;
    Object.assign(answered, { status: Status, answer });
  }
  // NotNow: the device is asked again at its next check-in, not in this one.
  const next = commands.find((c) => c.udid === message.UDID && (c.status === 'Queued' || (c.status === 'NotNow' && c !== answered)));
  if (!next) return ''; // nothing to do: an empty 200 ends the session
  next.status = 'Sent';
  return build({ CommandUUID: next.uuid, Command: next.command });
}

const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    if (req.url === '/mdm' && req.method === 'PUT') {
      const message = parse(body);
      const answer = req.headers['content-type'] === 'application/x-apple-aspen-mdm-checkin' ? checkIn(message) : connect(message);
      res.writeHead(200, answer ? { 'content-type': 'application/xml' } : {}).end(answer);
    } else if (req.url === '/commands' && req.method === 'POST') {
      const { udid, ...command } = JSON.parse(body);
      const queued = { udid, uuid: randomUUID(), command, status: 'Queued' };
      commands.push(queued);
      res.writeHead(201, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ...queued, apns: await push(udid) })}\n`);
    } else if (req.url === '/commands') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(commands, null, 2)}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log(`MDM server on http://127.0.0.1:${port}/mdm`));
process.on('SIGTERM', () => {
  apns.close();
  server.close();
  server.closeAllConnections();
});
