// Fleets of 1,000, 10,000 and 100,000 devices for 24 simulated hours (`--speed max`, in process), each in
// its own process so that peak memory is the fleet's own. Prints wall time, peak RSS and the action counts.
// Aim: 10,000 devices × 24 h in under a minute on the 2-core machine, with zero lost actions.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SIZES = [1_000, 10_000, 100_000];
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--one') {
  const { runSimulation } = await import('../dist/harness/index.js');
  const devices = Number(process.argv[3]);
  const report = await runSimulation({
    ios: devices / 2,
    android: devices / 2,
    noGcm: 0.3,
    hours: 24,
    speed: 'max',
    actions: devices,
    seed: 1,
  });
  const s = report.summary;
  process.stdout.write(
    JSON.stringify({
      devices,
      wallMs: report.wallMs,
      peakRssMB: Math.round(report.peakRssBytes / 1e6),
      events: report.events,
      sent: s.actionsSent,
      delivered: s.actionsDelivered,
      acknowledged: s.actionsAcknowledged,
      failed: s.actionsFailed,
      pending: s.actionsPending,
      lost: s.actionsLost,
      pingsPerDeviceHour: s.pingsPerDeviceHour,
      bytesPerDeviceHour: s.bytesPerDeviceHour,
      apnsP95Ms: s.latency.apns.p95Ms,
      fcmP95Ms: s.latency.fcm.p95Ms,
      heartbeatP95Ms: s.latency.heartbeat.p95Ms,
    }) + '\n',
  );
  process.exit(0);
}

const rows = [];
let failed = false;
for (const n of SIZES) {
  const run = spawnSync(process.execPath, ['--max-old-space-size=8192', self, '--one', String(n)], { encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(run.stderr);
    failed = true;
    continue;
  }
  const row = JSON.parse(run.stdout.trim().split('\n').pop());
  rows.push(row);
  if (row.lost !== 0 || row.pending !== 0) failed = true;
}
console.log('devices  hours  wall s  peak RSS MB   events     sent  delivered  acknowledged  failed  pending  lost  pings/dev-h  bytes/dev-h');
for (const r of rows) {
  console.log(
    [
      String(r.devices).padStart(7),
      '24'.padStart(6),
      (r.wallMs / 1000).toFixed(1).padStart(7),
      String(r.peakRssMB).padStart(12),
      String(r.events).padStart(9),
      String(r.sent).padStart(8),
      String(r.delivered).padStart(10),
      String(r.acknowledged).padStart(13),
      String(r.failed).padStart(7),
      String(r.pending).padStart(8),
      String(r.lost).padStart(5),
      r.pingsPerDeviceHour.toFixed(3).padStart(12),
      String(r.bytesPerDeviceHour).padStart(12),
    ].join(' '),
  );
}
const tenK = rows.find((r) => r.devices === 10_000);
if (tenK) console.log(`10,000 devices × 24 h: ${(tenK.wallMs / 1000).toFixed(1)} s (aim: < 60 s), lost ${tenK.lost}`);
process.exit(failed ? 1 : 0);
