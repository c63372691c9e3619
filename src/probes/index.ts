/**
 * The probe registry: one line per probe kind. Every layer above asks it what a check name means (its kind, its
 * plain-port counterpart, its last phase, what it speaks, its rule file section) instead of switching on the name.
 * Loading it loads no HTTP client: a kind loads its heavy libraries when it first runs.
 */
import type { CheckKind } from '../types.js';
import type { Check, ProbeKind, RuleSection } from './types.js';
import { tcpProbe } from './tcp.js';
import { tlsProbe } from './tls.js';
import { httpProbe } from './http.js';
import { apnsProbe } from './apns.js';
import { mqttProbe } from './mqtt.js';
import { writeProbe } from './write.js';

const kinds = [tcpProbe, tlsProbe, httpProbe, apnsProbe, mqttProbe, writeProbe] as const satisfies readonly ProbeKind[];

/**
 * types.ts's CheckKind (the type every layer uses: the names the kinds' files declare) and the names registered here
 * are the same set, or this file does not compile. The report schema's enum is held to them by a test.
 */
type Registered = (typeof kinds)[number]['checks'][number]['name'];
const sameNames: [CheckKind] extends [Registered] ? ([Registered] extends [CheckKind] ? true : never) : never = true;
void sameNames;
const registered: readonly ProbeKind[] = kinds;

/** check name → probe kind. */
export const probes: ReadonlyMap<CheckKind, ProbeKind> = new Map(
  registered.flatMap((kind) => kind.checks.map((check) => [check.name, kind] as const)),
);

const checks: ReadonlyMap<CheckKind, Check> = new Map(
  registered.flatMap((kind) => kind.checks.map((check) => [check.name, check] as const)),
);

/** Every check name a rule file may use, in registry order. */
export const checkNames: readonly CheckKind[] = [...checks.keys()];

/** Every rule file key a probe kind reads, with the checks whose rules may have it (for "only for a tls or https check"). */
export const ruleSections: ReadonlyArray<{ section: RuleSection; checks: readonly CheckKind[] }> = registered.flatMap((kind) =>
  (kind.sections ?? []).map((section) => ({
    section,
    checks: section.appliesTo
      ? [...checks.values()].filter(section.appliesTo).map((check) => check.name)
      : kind.checks.map((check) => check.name),
  })),
);

/** An unknown name is a pushcheck bug (rule files are validated against checkNames), never a silent default. */
function lookup<T>(map: ReadonlyMap<CheckKind, T>, name: CheckKind): T {
  const found = map.get(name);
  if (found === undefined) throw new Error(`no probe kind is registered for check "${String(name)}"`);
  return found;
}

export function probeFor(name: CheckKind): ProbeKind {
  return lookup(probes, name);
}

export function checkOf(name: CheckKind): Check {
  return lookup(checks, name);
}
