/**
 * ports_blocked: hosts that connect on some ports (443) fail at connect on others (5223, 2197, 5228–5230) that no
 * host passes on: the firewall lets only some ports out. A port counts as blocked only when nothing connects on it
 * in this run, and only where the same hosts, or other hosts of the same rule set, connect on another port.
 */
import type { FallbackTarget, Result } from '../types.js';
import {
  connected,
  FIREWALL_CODES,
  groupBy,
  hasCode,
  listText,
  policyNames,
  portsText,
  unique,
  type CauseDetector,
} from './evidence.js';

const WEB_PORTS: ReadonlySet<number> = new Set([80, 443, 8080, 8443]);

/**
 * Per fallback port and note, the blocked ports it would carry: ports that share a fallback and a note share a
 * clause; per port the shortest of the rules' notes says it plainest.
 */
function byFallback(
  results: readonly Result[],
  fallbackOf: (r: Result) => FallbackTarget,
): Array<[to: number, ports: string, note: string, results: Result[]]> {
  const byPort = groupBy(results, (r) => String(r.port));
  const clauses = groupBy(byPort.values(), (group) => {
    const note = unique(group.map((r) => fallbackOf(r).note.trim().replace(/\.$/, ''))).sort((a, b) => a.length - b.length)[0];
    return JSON.stringify([fallbackOf(group[0]!).port, note]);
  });
  return [...clauses].map(([key, groups]) => {
    const [to, note] = JSON.parse(key) as [number, string];
    const clause = groups.flat();
    return [to, portsText(clause.map((r) => r.port)), note, clause];
  });
}

/**
 * Which devices fall back (the rules' fallback notes say which), which would but this machine was too busy to judge
 * the fallback (a result's unjudgedFallback: its fallback target read local_overload), and which ports nothing carries.
 */
function fallbackText(blocked: readonly Result[]): string | undefined {
  const carried = blocked.filter((r) => r.fallback !== undefined);
  const unjudged = blocked.filter((r) => r.fallback === undefined && r.unjudgedFallback !== undefined);
  const uncarried = blocked.filter((r) => r.fallback === undefined && r.unjudgedFallback === undefined);
  const parts: string[] = [];
  for (const [to, ports, note] of byFallback(carried, (r) => r.fallback!)) {
    parts.push(`devices fall back to TCP ${to} for ${ports} (${note})`);
  }
  for (const [to, ports, note, results] of byFallback(unjudged, (r) => r.unjudgedFallback!)) {
    // The targets by name: beside a carried clause for the same port, or a summary that says TCP 443 gets through
    // (on another host), "too busy to judge TCP 443" read as a contradiction.
    // And the rules, as a clause of nothing falling back names them: the same host may have one of each (two vendors).
    const targets = unique(results.map((r) => `${r.unjudgedFallback!.host}:${r.unjudgedFallback!.port}`));
    const rules = unique(results.map((r) => `${r.ruleset}/${r.rule}`));
    parts.push(
      `devices would fall back to TCP ${to} for ${ports} (${note}), but this machine was too busy to judge ` +
        `${listText(targets, 4)} (${listText(rules, 4)})`,
    );
  }
  for (const [host, results] of groupBy(uncarried, (r) => r.host.toLowerCase())) {
    const rules = unique(results.map((r) => `${r.ruleset}/${r.rule}`));
    parts.push(`nothing falls back for ${host} on TCP ${portsText(results.map((r) => r.port))} (${listText(rules, 4)})`);
  }
  if (parts.length === 0) return undefined;
  const text = parts.join('; ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

export const portsBlocked: CauseDetector = {
  cause: 'ports_blocked',
  detect(open, { all }) {
    const openPorts = new Set(all.filter(connected).map((r) => r.port));
    const through = all.filter(connected);
    // Sets, not a search of every connected result for each blocked one (which grew with the square of the targets).
    const throughHosts = new Set(through.map((o) => o.host.toLowerCase()));
    const throughRulesets = new Set(through.map((o) => o.ruleset));
    const blocked = open.filter(
      (r) =>
        hasCode(r, FIREWALL_CODES) &&
        !openPorts.has(r.port) &&
        (throughHosts.has(r.host.toLowerCase()) || throughRulesets.has(r.ruleset)),
    );
    if (blocked.length === 0) return [];
    const blockedRulesets = new Set(blocked.map((b) => b.ruleset));
    const sameVendorPorts = new Set(through.filter((o) => blockedRulesets.has(o.ruleset)).map((o) => o.port));
    const passing = [...openPorts].filter((port) => sameVendorPorts.has(port));
    const onlyWeb = passing.every((port) => WEB_PORTS.has(port));
    const closed = portsText(blocked.map((r) => r.port));
    // One clause per set of ports, naming the hosts that need exactly those ports.
    const byHost = groupBy(blocked, (r) => r.host.toLowerCase());
    const byPorts = groupBy([...byHost.values()], (results) => portsText(results.map((r) => r.port)));
    const asks = [...byPorts].map(([ports, groups]) => `TCP ${ports} to ${listText(policyNames(groups.flat()), 6)}`);
    const detail = fallbackText(blocked);
    return [
      {
        summary:
          `The firewall lets TCP ${portsText(passing)} through but blocks TCP ${closed} to the same vendors' hosts` +
          `${onlyWeb ? ': it allows only web ports' : ''}.`,
        action: `Allow outbound ${asks.join('; ')}.`,
        ...(detail !== undefined && { detail }),
        explains: blocked,
      },
    ];
  },
};
