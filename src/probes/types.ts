/** The contract between the layers above and each probe kind: what a kind is, knows and does. */
import type { Socket } from 'node:net';
import type { FieldPath, Fields } from '../fields.js';
import type { CheckKind, Failure, Phase, ProbeOutcome, Rule, Target } from '../types.js';

/** What DNS (or a --resolve pin) gave for one host. */
export interface Resolution {
  /** A and AAAA addresses, IPv4 first; empty when failure is set. */
  addresses: string[];
  /** True when the addresses came from --resolve. */
  pinned: boolean;
  durationMs: number;
  /** When an answered lookup ended (a performance.now() time): an attempt that began later waited nothing for it. */
  endedAt?: number;
  failure?: Failure;
}

export interface ResolveOptions {
  /** --resolve pins and IP literals only: a name without a pin comes back with no address and no failure. */
  pinnedOnly?: boolean;
}

/**
 * What stops a probe or a phase: an AbortSignal, or a stand-in for one (phases.ts's QuickController, which the
 * scheduler makes once an attempt) that makes its AbortSignal only when asked for `signal`: a Node API (the write check's
 * node:http) needs one, no other check does, and on Node 20 each costs about 8 µs. phases.ts's onAbort(), isInterrupted(),
 * stoppedFailure() and bounded() take either; abortSignalOf() gives the AbortSignal.
 */
export type AbortSignalLike = AbortSignal | SignalStandIn;

export interface SignalStandIn {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Its AbortSignal, made on first use. */
  readonly signal: AbortSignal;
  /** Calls `listener` once when it aborts; returns what removes it (onAbort() calls this). */
  listen(listener: () => void): () => void;
}

export type ResolveHost = (host: string, signal: AbortSignalLike, options?: ResolveOptions) => Promise<Resolution>;

export interface ProbeContext {
  /** Upper bound for the whole probe (dns + connect + tls + http), in ms. */
  timeoutMs: number;
  /**
   * When the probe's time began (a `performance.now()`), if not when it is called: the scheduler may look the
   * name up first (to know its address families), and that lookup counts against this probe's timeoutMs.
   */
  startedAt?: number;
  /**
   * Aborted on timeout of the run or on Ctrl-C; a probe stops promptly and reports what it had. The scheduler's is
   * a QuickController (phases.ts), whose AbortSignal is made only if abortSignalOf() asks for it.
   */
  signal: AbortSignalLike;
  /**
   * When `signal` itself aborts with a TimeoutError (a performance.now() time): the scheduler's attempt deadline,
   * `timeoutMs` after `startedAt`. runProbe's budget then needs no timer of its own. Absent: only Ctrl-C aborts it.
   */
  deadline?: number;
  resolve: ResolveHost;
  /**
   * The lookup of the target's name the scheduler already holds (its run shares one per name and keeps a success):
   * runProbe takes it as `resolve` would give it, without waiting on a settled promise once a target.
   */
  resolved?: Resolution;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  ca: string[];
  /** --insecure: certificate problems are recorded but do not fail the probe. */
  insecure: boolean;
  /** Injectable clock for certificate expiry (days left). */
  now: () => Date;
  /** --proxy: every connection goes through it, and it resolves the target's name. */
  proxy?: Proxy;
  /**
   * --hold, for a rule marked `hold: true` whose kind has a hold step: a check that passes hands its open connection
   * to `keep` instead of closing it (and sets up the conversation so that the far end keeps it for `idleMs`).
   */
  hold?: { idleMs: number; keep: (connection: KeptConnection) => void };
}

/** A connection a passed check left open for --hold, with its kind's way to prove that the far end still answers. */
export interface KeptConnection {
  /** The TCP socket under it (a proxy's tunnel included): a reset or close during the idle time shows here. */
  socket: Socket;
  /**
   * Sends the kind's proof (an HTTP/2 PING, an MQTT PINGREQ, a TLS close_notify) and resolves with what answered;
   * rejects with the socket's error (a reset). The caller bounds it in time and closes the connection afterwards.
   */
  prove(): Promise<string>;
  /** Destroys the connection; safe to call more than once. */
  close(): void;
}

/** A kind's --hold step: a kind without one cannot hold a connection, and `hold: true` is refused on its rules. */
export interface HoldStep {
  /** What the kind sends after the idle time, completing "sent …": "an HTTP/2 PING". */
  proof: string;
}

export type ProbeFn = (target: Target, ctx: ProbeContext) => Promise<ProbeOutcome>;

/**
 * One check name a rule file may use, and every fact about it that the layers above need, so that none of them
 * switches on the name.
 */
export interface Check {
  name: CheckKind;
  /** The check of a port the rule lists under plainPorts: the same conversation without TLS (https → http, tls → tcp). */
  plain: CheckKind;
  /**
   * The phase the probe ends in. A probe that overruns its time (caught by the scheduler's watchdog) fails with this
   * phase's timeout code from classify.ts's TIMEOUT_CODES, as a probe that notices its own timeout there does.
   */
  lastPhase: Phase;
  /** What a server must speak to pass this check: TLS first, HTTP requests. */
  speaks: { tls: boolean; http: boolean };
  /**
   * What a server standing in for the real one (the demo's) answers so that this check passes. A check without
   * one (tcp, tls) asks for nothing beyond the connection and the handshake: the stand-in holds the connection open.
   */
  answer?: ServerAnswer;
  /**
   * The URL schemes a rule's `url` may have for this check, each with its default port (`{ https: 443 }`): a url
   * rule gets the check its url's scheme names. A check that reads its urls itself (urlTarget) names none.
   */
  schemes?: Readonly<Record<string, number>>;
  /** The URL a target of a host rule is given, when the check has one (http, https). */
  url?: (host: string, port: number, rule: Rule) => string;
  /**
   * For a check whose rule's `url` is not http(s) (write: webdav://, ftp://, a file path): the host and port a
   * concrete url names, or undefined when it is not one this check takes.
   */
  urlTarget?: (url: string) => { host: string; port: number } | undefined;
  /** What such a url must be, completing "needs …" in an error (e.g. "a webdav://, ftp:// URL or a file path"). */
  urlForm?: string;
}

/** What the rule file reader tells a kind about the rule whose section it reads. */
export interface SectionContext {
  /** The rule's check (one of the kind's own). */
  check: CheckKind;
  /** For a rule with a concrete `url`: the path and query the url gives ("/" while the url is a `${var}` template). */
  urlPath?: string;
}

/**
 * A key of a rule that belongs to one probe kind (`http:` to the http kind, `tls:` to the tls kind): its reader
 * validates it (failing through `f` with the field's file, line and path) and returns the value the rule holds
 * under that key.
 */
export interface RuleSection<K extends keyof Rule = keyof Rule> {
  key: K;
  read(f: Fields, raw: unknown, path: FieldPath, context: SectionContext): NonNullable<Rule[K]>;
  /** The checks (of any kind) whose rules may have it, by their facts; default: the kind's own checks. */
  appliesTo?: (check: Check) => boolean;
}

/** A probe kind: one file in src/probes/ and one line in probes/index.ts. */
export interface ProbeKind {
  /** The check names this kind answers to in rule files. */
  checks: readonly Check[];
  /** The rule file keys this kind reads; a rule of another kind may not use them. */
  sections?: readonly RuleSection[];
  /** --hold: present when a passed check can keep its connection (ProbeContext.hold) and prove it after idling. */
  hold?: HoldStep;
  run: ProbeFn;
}

/**
 * How a stand-in server answers a check on a connection it accepted, after the TLS handshake when the check speaks
 * TLS. Plain code over Node's sockets: the demo asks the registry what to serve, and the kind knows nothing of it.
 */
export interface ServerAnswer {
  /**
   * The ALPN protocol the answer speaks. A TLS stand-in offers the protocols of every registered answer, in registry
   * order (its order wins the negotiation). A connection that negotiated this protocol gets this answer; one that
   * negotiated none gets it too unless `required` (APNs speaks HTTP/2 to a client that asked for h2, to no other).
   */
  alpn?: { protocol: string; required: boolean };
  /** Serves one connection until the client is done; `site` is what the stand-in has that the kind does not. */
  serve(socket: Socket, site: StandInSite): void;
}

/** What a stand-in server has of its own, for the answers that need it. */
export interface StandInSite {
  /** Answers HTTP/1.1 requests on the connection with the stand-in's pages (by Host header and path; others 404). */
  web(socket: Socket): void;
}

export type ProxyProtocol = 'http' | 'socks5';

/** A parsed --proxy. The password serves the handshake only: it is recorded masked and never put in a message. */
export interface Proxy {
  protocol: ProxyProtocol;
  /** A name or an IP address (IPv6 without brackets). */
  host: string;
  port: number;
  user?: string;
  password?: string;
}
