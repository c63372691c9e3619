/** Renders a simulation report as text tables. Pure: report in, string out. */
import Table from 'cli-table3';
import { signalOfExitCode } from '../signals.js';
import type { LatencySummary } from './fleet/stats.js';
import { DELIVERY_PATHS, DELIVERY_PATH_LABELS, type FaultEffect, type SimulationReport } from './fleet/simulation-report.js';

/** 850 → "850 ms", 61_000 → "1.0 min", 5_400_000 → "1.5 h". */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(2)} h`;
}

const style = { head: [], border: [] };

function latencyCells(l: LatencySummary): string[] {
  return [String(l.count), formatDuration(l.p50Ms), formatDuration(l.p95Ms), formatDuration(l.p99Ms), formatDuration(l.maxMs)];
}

function faultRow(f: FaultEffect): string[] {
  const effects = Object.entries(f.effects)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [f.fault, f.window, String(f.actions), String(f.acknowledged), String(f.failed), String(f.pending), formatDuration(f.latency.p50Ms), formatDuration(f.latency.p95Ms), effects];
}

export function renderSimulationTable(r: SimulationReport): string {
  const s = r.summary;
  const out: string[] = [];
  out.push(
    `Simulated ${s.devices} devices (${s.ios} iOS, ${s.android} Android, ${s.androidWithoutGcm} without Google Play services) ` +
      `for ${r.hours} h (+${(r.simulatedHours - r.hours).toFixed(2)} h to finish), speed ${r.speed}, seed ${r.seed}; ` +
      `wall time ${formatDuration(r.wallMs)}.`,
  );

  const traffic = new Table({ head: ['Traffic', ''], style });
  traffic.push(
    ['devices', String(s.devices)],
    ['pings', String(s.pings)],
    ['pings per device-hour', s.pingsPerDeviceHour.toFixed(3)],
    ['bytes per device-hour', String(s.bytesPerDeviceHour)],
    ['bytes per ping', `${s.bytesPerPing} (documented: 2–3 KB)`],
    ['pushes sent / accepted', `${r.pushes.sent} / ${r.pushes.accepted}`],
  );
  for (const [why, n] of Object.entries(r.pushes.rejected)) traffic.push([`pushes rejected ${why}`, String(n)]);
  out.push(traffic.toString());

  const actions = new Table({ head: ['Actions', ''], style });
  actions.push(
    ['sent', String(s.actionsSent)],
    ['delivered', String(s.actionsDelivered)],
    ['acknowledged', String(s.actionsAcknowledged)],
    ['failed', `${s.actionsFailed} (${s.actionsErrored} error, ${s.actionsExpired} expired)`],
    ['pending', String(s.actionsPending)],
    ['lost', String(s.actionsLost)],
  );
  out.push(actions.toString());

  const latency = new Table({ head: ['Round trip (simulated)', 'actions', 'p50', 'p95', 'p99', 'max'], style });
  for (const p of DELIVERY_PATHS) latency.push([DELIVERY_PATH_LABELS[p], ...latencyCells(s.latency[p])]);
  out.push(latency.toString());

  if (r.pending.length > 0) {
    const pending = new Table({ head: ['Pending because', 'actions'], style });
    for (const p of r.pending) pending.push([p.reason, String(p.count)]);
    out.push(pending.toString());
  }

  if (r.faults.length > 0) {
    const faults = new Table({ head: ['Fault', 'window', 'actions', 'ack', 'failed', 'pending', 'p50', 'p95', 'what it did'], style, wordWrap: true, colWidths: [null, null, null, null, null, null, null, null, 48] as unknown as number[] });
    for (const f of r.faults) faults.push(faultRow(f));
    if (r.baseline) faults.push(faultRow(r.baseline));
    out.push(faults.toString());
  }
  if (r.interrupted) {
    out.push(`INTERRUPTED (${signalOfExitCode(r.exitCode) ?? 'signal'}): the report holds the first ${r.simulatedHours} simulated hours of ${r.hours}.`);
  }
  out.push(
    r.exitCode === 0
      ? 'Every action reached a final state.'
      : `${s.actionsPending} action(s) still pending${s.actionsLost > 0 ? `, ${s.actionsLost} lost` : ''}.`,
  );
  return `${out.join('\n')}\n`;
}
