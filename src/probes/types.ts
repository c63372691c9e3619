/** The contract between the run layer and each probe kind. */
import type { CheckKind, Failure, ProbeOutcome, Target } from '../types.js';
import type { Proxy } from './proxy.js';

/** What DNS (or a --resolve pin) gave for one host. */
export interface Resolution {
  /** A and AAAA addresses, IPv4 first; empty when failure is set. */
  addresses: string[];
  /** True when the addresses came from --resolve. */
  pinned: boolean;
  durationMs: number;
  failure?: Failure;
}

export interface ResolveOptions {
  /** --resolve pins and IP literals only: a name without a pin comes back with no address and no failure. */
  pinnedOnly?: boolean;
}

export type ResolveHost = (host: string, signal: AbortSignal, options?: ResolveOptions) => Promise<Resolution>;

export interface ProbeContext {
  /** Upper bound for the whole probe (dns + connect + tls + http), in ms. */
  timeoutMs: number;
  /** Aborted on timeout of the run or on Ctrl-C; a probe stops promptly and reports what it had. */
  signal: AbortSignal;
  resolve: ResolveHost;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  ca: string[];
  /** --insecure: certificate problems are recorded but do not fail the probe. */
  insecure: boolean;
  /** Injectable clock for certificate expiry (days left). */
  now: () => Date;
  /** --proxy: every connection goes through it, and it resolves the target's name. */
  proxy?: Proxy;
}

export type ProbeFn = (target: Target, ctx: ProbeContext) => Promise<ProbeOutcome>;

export interface ProbeKind {
  /** The check names this kind answers to in rule files. */
  checks: CheckKind[];
  run: ProbeFn;
}
