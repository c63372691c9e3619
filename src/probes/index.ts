/**
 * The probe registry: one line per probe kind. The `check:` values a rule file may use come from here.
 */
import type { CheckKind } from '../types.js';
import type { ProbeKind } from './types.js';
import { tcpProbe } from './tcp.js';
import { tlsProbe } from './tls.js';
import { httpProbe } from './http.js';

const kinds: ProbeKind[] = [tcpProbe, tlsProbe, httpProbe];

/** check name → probe kind. */
export const probes: ReadonlyMap<CheckKind, ProbeKind> = new Map(
  kinds.flatMap((kind) => kind.checks.map((check) => [check, kind] as const)),
);

/** Every check name a rule file may use, in registry order. */
export const checkNames: readonly CheckKind[] = [...probes.keys()];

export function probeFor(check: CheckKind): ProbeKind {
  const kind = probes.get(check);
  if (!kind) throw new Error(`no probe registered for check "${check}"`);
  return kind;
}
