/**
 * Literals for probe tests: a ProbeContext with a real resolver (pins, or a test DNS server) and a Target
 * with a complete Rule whose fields can be overridden. Built by probe-literals.mjs, which tcp-dropped.mjs shares.
 */
import { createResolver } from '../../src/probes/dns.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { probeContextWith, type ContextOptions } from './probe-literals.mjs';

export { testTarget } from './probe-literals.mjs';
export type { ContextOptions };

export function probeContext(options: ContextOptions = {}): ProbeContext {
  return probeContextWith(createResolver, options);
}
