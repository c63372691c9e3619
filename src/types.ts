/**
 * The plain data that flows between pushcheck's layers:
 * rules (YAML → RuleSet) → run (RuleSet → Target[] → Result[]) → report (Report → text).
 * Nothing here has behaviour; every layer can be tested with literals of these types.
 */

/**
 * The check names a rule file may use, as keys. Empty here: each probe kind's file adds its own names
 * (`declare module '../types.js' { interface CheckNames { mqtt: true } }`), so that a new kind touches no shared file
 * and this bottom layer names none of them. probes/index.ts does not compile when these and the registry differ.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by the probe kinds' files
export interface CheckNames {}
/**
 * What a probe does on a port (`tcp`, `tls`, `https`, …): a check name of the probe registry. A library user's
 * compiler reads only the declarations `pushcheck`'s entry point reaches, which are not the kinds' files: for it,
 * any string (a saved report may come from a pushcheck with other kinds anyway).
 */
export type CheckKind = [keyof CheckNames] extends [never] ? string : keyof CheckNames & string;
export type Severity = 'critical' | 'warning';
/** `warn`: a warning-severity rule did not pass, a retired port failed, or a fallback carried the traffic. */
export type Status = 'pass' | 'fail' | 'warn' | 'skip';
export type Phase = 'dns' | 'connect' | 'tls' | 'http';
/** The IP family of an address a target was probed on. */
export type AddressFamily = 'ipv4' | 'ipv6';
/** --family: which families a run probes (`both`: each one a name has). */
export type FamilyChoice = '4' | '6' | 'both';
/**
 * Where a failure happened: a network phase, `cert`: in a credential file itself (`pushcheck cert`), `write`, or
 * `hold`: on a connection kept idle by --hold after its check passed.
 */
export type FailurePhase = Phase | 'cert' | 'write' | 'hold';

/** Where a rule's facts come from: the vendor's page, or the current facts pushcheck adds beside it. */
export type RuleOrigin = 'documented' | 'current';

/** Optional HTTP expectations of an http/https rule. */
export interface HttpExpectation {
  method: 'GET' | 'HEAD';
  path: string;
  /** Accepted status codes; empty means any response at all proves the path open. */
  status: number[];
  /** Expected media type (no parameters), compared case-insensitively. */
  contentType?: string;
  /** Largest body accepted, from Content-Length or the bytes read. */
  maxBytes?: number;
}

/** A TLS protocol version as Node's `getProtocol()` spells it. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** A cipher algorithm and the least key size accepted, e.g. AES with 256 bits. */
export interface TlsCipherRequirement {
  /** AES, CHACHA20, CAMELLIA, ARIA, 3DES, RC4, DES or SM4. */
  algorithm: string;
  bits: number;
}

/** What a tls/https rule asks of the session beyond a completed handshake; a session short of it is `tls_weak`. */
export interface TlsRequirement {
  minVersion?: TlsVersion;
  /** Accepted ciphers (any one suffices); empty means any. */
  ciphers: TlsCipherRequirement[];
}

/** Ports of a rule that the vendor still lists but that the service no longer uses. */
export interface LegacyPorts {
  ports: number[];
  /** ISO date the service was retired, e.g. 2021-03-31. */
  retired: string;
  note: string;
}

/** When a target of this rule fails and the fallback passes on the same host, the result is a warning. */
export interface Fallback {
  /** id of the rule holding the fallback ports (may be this rule's own id). */
  rule: string;
  /** Ports of the fallback rule that count; default: all its ports. */
  ports: number[];
  /** Ports of this rule the fallback covers; default: all. */
  for: number[];
  /** Why the fallback keeps things working, shown with the warning. */
  note: string;
}

/** How a `#` in a host name is filled in. */
export interface NumberedHosts {
  from: number;
  to: number;
  /** How many numbers to probe, spread evenly over the range, ends included. */
  sample: number;
}

export interface Rule {
  id: string;
  /** The host as the vendor documents it; may hold `#` (a number) or `*` (a wildcard). */
  host: string;
  /** Concrete hosts actually probed; required when `host` has a `*`. */
  probe: string[];
  ports: number[];
  check: CheckKind;
  /** Ports probed without TLS (tcp, or http for an https rule), e.g. 80 of an "HTTP/S" row. */
  plainPorts: number[];
  purpose: string;
  /** The vendor's "if it fails" text, word for word. */
  impact: string;
  severity: Severity;
  origin: RuleOrigin;
  /** Free text shown with the rule (e.g. "GCM became FCM"). */
  note?: string;
  /**
   * Every address the rule's hosts resolve to must lie in one of these ranges. An address is judged only against
   * the ranges of its own family: a rule with IPv4 ranges only says nothing about IPv6 addresses.
   */
  cidr: string[];
  /**
   * Narrower ranges inside `cidr` that the vendor offers to networks that cannot open the broad block (Apple's
   * list beside 17.0.0.0/8); the report says whether the addresses found lie in them too.
   */
  narrowCidr: string[];
  /**
   * Organisations (the issuer's O) whose own CA signs this vendor's certificates, e.g. "Apple Inc." for APNs'
   * courier servers: devices trust that CA, this machine's roots do not, and the certificate need not name each
   * numbered host. A certificate from one of them passes, with a note; any other issuer is still untrusted.
   */
  vendorIssuers: string[];
  fallback?: Fallback;
  legacy?: LegacyPorts;
  numbered?: NumberedHosts;
  /** A URL template with `${var}` placeholders; when set, host, port and scheme come from it. */
  url?: string;
  http?: HttpExpectation;
  /** Session requirements of a tls or https check. */
  tls?: TlsRequirement;
  /** A long-lived channel (courier, FCM's mtalk, MQTT): --hold keeps its connection open and idle, then proves it. */
  hold?: boolean;
  /** 1-based line of the rule in its file, for error messages. */
  line: number;
}

/** A `${name}` placeholder that rule urls of a set use, supplied with `--var name=value`. */
export interface RuleVar {
  name: string;
  /** A value shown in the hint when the variable is missing. */
  example: string;
  /** What the variable lets pushcheck check, completing "to check …" (e.g. "the message file"). */
  checks: string;
}

/** A credential file to check (`pushcheck cert FILE`, or an entry of a rule file's `credentials:`). */
export interface CredentialSpec {
  file: string;
  /** The private key, when it is not in `file`. */
  keyFile?: string;
  /** The environment variable holding the passphrase (PKCS#12, encrypted PEM key); never the passphrase itself. */
  passphraseEnv?: string;
  /** Token keys (.p8): key id and team id (default: the key id from an `AuthKey_<KEYID>.p8` name). */
  keyId?: string;
  teamId?: string;
  /** The topic a live push uses: required for a token key, which carries none; default a certificate's own. */
  topic?: string;
  /** Also push once to APNs with it (`--live`). */
  live?: boolean;
  /** Where a live push goes; default Apple's endpoint for the credential's environment. */
  apnsUrl?: string;
  /** 1-based line in the rule file that named it (0 on the command line). */
  line?: number;
}

export interface RuleSet {
  id: string;
  title: string;
  aliases: string[];
  /** What the rules were taken from (the vendor page). */
  source?: string;
  notes: string[];
  rules: Rule[];
  /** The variables its rules' urls use; the loader always fills it (empty when none). */
  vars?: RuleVar[];
  /** APNs credentials checked with the rules (`credentials:`), paths resolved against the rule file's folder. */
  credentials?: CredentialSpec[];
  /** Path it was loaded from. */
  file: string;
  builtin: boolean;
}

/** One (rule, host, port) to probe. */
export interface Target {
  ruleset: string;
  rule: Rule;
  /** The concrete host connected to (and sent as SNI / Host). */
  host: string;
  port: number;
  check: CheckKind;
  /** Set when the host's addresses were split by family: only addresses of this family are probed. */
  family?: AddressFamily;
  /** For http/https targets built from a URL: the full URL. */
  url?: string;
  /** Set when the target cannot be probed (e.g. a missing --var); the run reports it as `skip`. */
  skipReason?: string;
}

/** Failure codes; the explanation and hint for each live in probes/classify.ts. */
export type FailureCode =
  | 'dns_not_found'
  | 'dns_no_address'
  | 'dns_timeout'
  | 'dns_error'
  | 'dns_outside_cidr'
  | 'tcp_refused'
  | 'tcp_timeout'
  | 'tcp_unreachable'
  | 'tcp_reset'
  | 'tcp_error'
  | 'tls_handshake_failed'
  | 'tls_untrusted'
  | 'tls_expired'
  | 'tls_not_yet_valid'
  | 'tls_hostname_mismatch'
  | 'tls_weak'
  | 'protocol_mismatch'
  | 'http_status'
  | 'http_content'
  | 'http_timeout'
  | 'http_error'
  | 'proxy_unreachable'
  | 'proxy_auth'
  | 'proxy_refused'
  | 'proxy_error'
  | 'tls_expiring'
  | 'cert_expired'
  | 'cert_not_yet_valid'
  | 'cert_expiring'
  | 'cert_not_apns'
  | 'cert_key_mismatch'
  | 'cert_renewal_topic'
  | 'cert_renewal_older'
  | 'key_invalid'
  | 'apns_rejected'
  | 'local_overload'
  | 'burst_slo'
  | 'auth_failed'
  | 'write_denied'
  | 'write_not_found'
  | 'write_readback'
  | 'write_error'
  | 'idle_dropped'
  | 'idle_reset';

export interface Failure {
  code: FailureCode;
  phase: FailurePhase;
  /** What happened, one line (includes the errno or TLS alert where there is one). */
  message: string;
  /** What to do about it, one line. */
  hint: string;
}

/** Durations in milliseconds; a phase that did not run is absent. */
export interface Timings {
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  httpMs?: number;
  totalMs: number;
}

export interface TlsInfo {
  protocol: string;
  cipher: string;
  alpn?: string;
  subject: string;
  issuer: string;
  /** ISO date-time of the leaf certificate's notAfter. */
  validTo: string;
  daysLeft: number;
  /** Subject alternative names of the leaf. */
  altNames: string[];
  /** Whether the chain verified against the trusted CAs (false only when --insecure let it through). */
  trusted: boolean;
}

export interface HttpInfo {
  status: number;
  contentType?: string;
  bytes?: number;
}

/** What a probe returns. A probe never throws for a network problem. */
export interface ProbeOutcome {
  ok: boolean;
  /** The address connected to (or last tried); through --proxy, the one sent to the proxy (none when a name was). */
  address?: string;
  /** Every address the host resolved to (A and AAAA). */
  addresses: string[];
  /** True when the address came from --resolve rather than DNS. */
  pinned: boolean;
  timings: Timings;
  tls?: TlsInfo;
  http?: HttpInfo;
  failure?: Failure;
  /** Something worth knowing about a pass, e.g. "server asked for a client certificate". */
  note?: string;
}

/** What `pushcheck burst` holds a burst's figures against. */
export interface BurstSlo {
  /** Share of clients whose HEAD and GET both succeed, 0–100. */
  successPercent: number;
  /** p99 of the time to the last byte must be under this. */
  p99Ms: number;
}

/** The figures of one `pushcheck burst` against one URL. Times are from a client's start to its GET's last byte. */
export interface BurstStats {
  /** Clients asked for, and the window their starts were spread over. */
  clients: number;
  withinMs: number;
  /** Clients actually started (fewer when interrupted). */
  started: number;
  succeeded: number;
  /** `"GET 200"` → how many responses. */
  statusCodes: Record<string, number>;
  /** Failure code → how many clients failed so. */
  errors: Record<string, number>;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  slowestMs?: number;
  /** Body bytes received by all clients together. */
  bytes: number;
  slo: BurstSlo;
  sloMet: boolean;
  /** p99 of how late pushcheck's own event loop ran during the burst: the times include this much of our delay. */
  clientLagMs?: number;
}

/**
 * How a connection held by --hold ended: `answered` (the far end answered after the idle time: the path held),
 * `dropped` (no answer: idle_dropped), `reset` (a TCP reset: idle_reset), `closed` (the server itself ended the
 * connection during the idle time: the path worked until then, the hold proves nothing beyond), `interrupted`
 * (Ctrl-C or SIGTERM ended the hold).
 */
export type HoldEnd = 'answered' | 'dropped' | 'reset' | 'closed' | 'interrupted';

export interface HoldResult {
  /** The idle time --hold asked for, ms. */
  requestedMs: number;
  /** How long the connection sat idle before the proof was sent or it ended, ms. */
  idleMs: number;
  end: HoldEnd;
  /** What was sent after the idle time to prove the far end still answers, e.g. "an HTTP/2 PING". */
  proof: string;
  /** ms from sending the proof to its answer (end `answered`). */
  answerMs?: number;
  /** What answered, or what happened, one line. */
  detail: string;
}

/** One line of a report: a target and what happened to it. Flat and JSON-ready. */
export interface Result {
  ruleset: string;
  /** The rule's id. */
  rule: string;
  /** The host as documented in the rule. */
  documentedHost: string;
  /** The host actually probed. */
  host: string;
  port: number;
  /** The family probed, when the host had addresses to probe (through a proxy that resolves names: absent). */
  family?: AddressFamily;
  address?: string;
  addresses: string[];
  /** `cert`: a credential file (`pushcheck cert`, a rule file's `credentials:`); host is then the file, port 0. */
  check: CheckKind | 'cert';
  status: Status;
  severity: Severity;
  origin: RuleOrigin;
  purpose: string;
  impact: string;
  timings: Timings;
  attempts: number;
  tls?: TlsInfo;
  http?: HttpInfo;
  error?: Failure;
  /** Why a non-pass is only a warning (legacy port, fallback, warning severity) or why it was skipped. */
  note?: string;
  /** Present when the target failed on a retired port. */
  legacy?: { retired: string; note: string };
  /** Present when a fallback carried a failed target: the fallback target that passed. */
  fallback?: FallbackTarget;
  /**
   * Present when no fallback target passed but one read local_overload (this machine was too busy to judge it): the
   * target that could have carried this failed one. Whether the fallback works is not known.
   */
  unjudgedFallback?: FallbackTarget;
  /** How the connection went: `direct`, or the proxy's URL with its password masked (`http://user:***@host:port`). */
  via?: string;
  /** Present on an IPv6 result that failed while IPv4 to the same host and port passed: devices fall back to it. */
  familyFallback?: { family: AddressFamily; address?: string; note: string };
  /** --hold: what became of the connection kept open and idle after the check passed. */
  hold?: HoldResult;
  /**
   * Present (true) when a proxy resolved the host's name: one result for every family the name may have, with no
   * `family` and no IPv4/IPv6 judgement, since which family the proxy used cannot be seen from here.
   */
  resolvedByProxy?: boolean;
  /** What a credential file holds (check `cert`). */
  credential?: CredentialInfo;
  /** Present in a `pushcheck burst` report. */
  burst?: BurstStats;
}

/** A target of a rule's fallback, and the rule's note on why the fallback keeps things working. */
export interface FallbackTarget {
  rule: string;
  host: string;
  port: number;
  note: string;
}

/**
 * The facts of one APNs credential: a push certificate (from PEM, DER or PKCS#12) or a token-auth key (.p8).
 * Public facts only: never a passphrase or a byte of the private key.
 */
export interface CredentialInfo {
  file: string;
  format: 'pem' | 'der' | 'pkcs12' | 'p8';
  kind: 'certificate' | 'token-key';
  subject?: string;
  issuer?: string;
  /** Hex, upper case. */
  serial?: string;
  validFrom?: string;
  validTo?: string;
  daysLeft?: number;
  /** The APNs topic: the subject's UID. */
  topic?: string;
  /** Further topics from Apple's topic extension (1.2.840.113635.100.6.3.6), e.g. `….voip`. */
  extraTopics?: string[];
  /** From Apple's extensions: 1.2.840.113635.100.6.3.1 development, …3.2 production. */
  environment?: 'production' | 'development' | 'both' | 'unknown';
  /** A topic starting `com.apple.mgmt.`: an MDM push certificate. */
  mdm?: boolean;
  /** Whether the private key in the file (or --key) belongs to the certificate; absent when there is none. */
  keyMatches?: boolean;
  /** Token keys: the key id and team id (ten characters each), and the key's type (`EC P-256`). */
  keyId?: string;
  teamId?: string;
  keyType?: string;
  /** `--live`: what APNs answered to one push to an all-zero device token. */
  live?: { url: string; topic: string; status?: number; reason?: string };
}

/** Per-rule facts that only make sense across its targets. */
export interface RuleSummary {
  ruleset: string;
  rule: string;
  documentedHost: string;
  hosts: string[];
  /** Every distinct address found for the rule's hosts. */
  addresses: string[];
  cidr?: {
    ranges: string[];
    /** Addresses found by DNS that lie outside every range. */
    outside: string[];
    /** Addresses that were pinned with --resolve and so were not judged. */
    pinned: string[];
    verdict: 'inside' | 'outside' | 'unknown';
    message: string;
    /** When every address lies inside `ranges` and the rule has narrower ones: whether they lie in those too. */
    narrow?: { ranges: string[]; outside: string[]; verdict: 'inside' | 'outside' };
  };
}

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  warned: number;
  skipped: number;
}

/** The options a run used, as they go into a report (secrets never). */
export interface RunOptions {
  timeoutMs: number;
  concurrency: number;
  retries: number;
  dnsServer?: string;
  resolve: string[];
  caFiles: string[];
  vars: string[];
  strict: boolean;
  insecure: boolean;
  courier?: string;
  courierSample?: number;
  /** --proxy with its password masked: `http://user:***@host:port`. */
  proxy?: string;
  /** Where the proxy came from: `--proxy`, or the environment variable (`HTTPS_PROXY`, `all_proxy`, …). */
  proxySource?: string;
  /** NO_PROXY's entries (hosts that went direct) when the proxy came from the environment. */
  noProxy?: string[];
  /** --family: `4`, `6` or `both` (absent in reports from before it existed: both). */
  family?: FamilyChoice;
  /** --hold: ms the connections of long-lived channel rules were kept idle after their checks passed. */
  holdMs?: number;
  /** Certificates expiring within this many days warn (credentials; server certificates of the user's own rules). */
  warnDays?: number;
  /** `pushcheck burst`: how many clients, over what window, against what SLO. */
  burst?: { clients: number; withinMs: number; slo: BurstSlo };
}

/** The causes pushcheck can name (docs/findings.md says what evidence each needs and what to ask for). */
export type FindingCause =
  | 'no_dns'
  | 'no_route'
  | 'clock_skew'
  | 'legacy_only'
  | 'proxy_refuses_ports'
  | 'ipv6_broken'
  | 'idle_timeout'
  | 'tls_interception'
  | 'dns_filtered'
  | 'host_blocked'
  | 'ports_blocked';

/** `critical`: it explains a critical failure; `info`: nothing to do. */
export type FindingSeverity = 'critical' | 'warning' | 'info';

/** What is wrong with the network, drawn from many results: the words for a change request. */
export interface Finding {
  cause: FindingCause;
  severity: FindingSeverity;
  /** What is wrong with the network, one sentence. */
  summary: string;
  /** What to ask the network team for: hosts, ports, ranges. */
  action: string;
  /** Further evidence, one sentence (e.g. which devices fall back and which do not). */
  detail?: string;
  /** What this finding is about when its cause can be found more than once (an issuer); with `cause`, its identity. */
  subject?: string;
  /** How many results it explains. */
  targets: number;
  /** Up to five of them, as `ruleset/rule host:port`. */
  examples: string[];
  /** The rule sets of the results it explains. */
  rulesets: string[];
}

export interface RuleSetInfo {
  id: string;
  title: string;
  source?: string;
  notes: string[];
  file: string;
}

export interface Report {
  schemaVersion: 1;
  tool: { name: 'pushcheck'; version: string };
  environment: { node: string; platform: string; release: string; arch: string; hostname?: string };
  startedAt: string;
  durationMs: number;
  options: RunOptions;
  rulesets: RuleSetInfo[];
  summary: Summary;
  /** `pass`: nothing critical failed; `fail`: something critical failed (exit 1). */
  verdict: 'pass' | 'fail';
  exitCode: 0 | 1 | 130 | 143;
  interrupted: boolean;
  /** Causes drawn from the results, most serious first; empty when nothing failed or warned. */
  findings: Finding[];
  results: Result[];
  rules: RuleSummary[];
}
