/**
 * The DNS phase: --resolve pins, the system resolver, or a chosen DNS server (--dns-server).
 * A resolver never throws for a network problem: the failure is in the Resolution it returns.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';
import { ipVersion } from '../ip-version.js';
import { classifyError, errorCodes, failure, PhaseError, withContext } from './classify.js';
import { bounded, roundMs, since, stoppedFailure } from './phases.js';
import { resolverSlots, systemLookup } from './system-lookup.js';
import type { Resolution, ResolveHost, ResolveOptions, AbortSignalLike } from './types.js';

/** A --resolve pin: `host` is a name, or `*.suffix` matching one or more labels before the suffix. */
export interface Pin {
  host: string;
  address: string;
}

/** A --dns-server: an IP address (no brackets) and a port. */
export interface DnsServer {
  host: string;
  port: number;
}

export interface ResolverOptions {
  /** Ask this server directly instead of the system resolver. */
  dnsServer?: DnsServer;
  pins: Pin[];
  /** Upper bound for one host's resolution, ms. */
  timeoutMs: number;
}

/** A pin's host, in the lower case canonicalHost() gives it: no `i` flag, whose case tables made the pattern's first use 2-3 times slower. */
const HOST_PATTERN = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function unbracket(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** Lower case, without a trailing dot or IPv6 brackets: the form hosts are compared in. */
function canonicalHost(host: string): string {
  return unbracket(host.trim()).replace(/\.$/, '').toLowerCase();
}

/** Parses `HOST=IP` (IPv6 with or without brackets); `HOST` may be `*.example.com`. */
export function parsePin(text: string): Pin {
  const eq = text.indexOf('=');
  const example = 'expected HOST=IP, e.g. api.push.apple.com=17.188.143.34 or *.push.apple.com=17.188.143.34';
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--resolve "${text}": ${example}`);
  const host = canonicalHost(text.slice(0, eq));
  const address = unbracket(text.slice(eq + 1).trim());
  if (!HOST_PATTERN.test(host)) {
    throw new UsageError(
      host.includes('*')
        ? `--resolve "${text}": "*" may only stand for the leading labels, as in *.push.apple.com`
        : `--resolve "${text}": "${host}" is not a host name`,
    );
  }
  if (isIP(address) === 0) throw new UsageError(`--resolve "${text}": "${address}" is not an IP address`);
  return { host, address };
}

/** Parses `IP`, `IP:PORT`, `IPv6` or `[IPv6]:PORT`; the port defaults to 53. */
export function parseDnsServer(text: string): DnsServer {
  const usage = `--dns-server "${text}": expected IP or IP:PORT ([IPv6]:PORT for an IPv6 address with a port)`;
  const trimmed = text.trim();
  let host = trimmed;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIPv6(trimmed)) {
    host = trimmed;
  } else if (trimmed.includes(':')) {
    const colon = trimmed.lastIndexOf(':');
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
  }
  if (isIP(host) === 0) throw new UsageError(usage);
  const port = portText === undefined ? 53 : Number(portText);
  if (!/^\d+$/.test(portText ?? '53') || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--dns-server "${text}": the port must be a number from 1 to 65535`);
  }
  return { host, port };
}

/**
 * The addresses the pins give `host`: the exact pins if there are any, else those of the most specific matching
 * wildcard. Empty when no pin matches.
 */
export function pinnedAddresses(host: string, pins: readonly Pin[]): string[] {
  const name = canonicalHost(host);
  const exact = pins.filter((pin) => pin.host === name);
  if (exact.length > 0) return exact.map((pin) => pin.address);
  let best = '';
  let found: string[] = [];
  for (const pin of pins) {
    if (!pin.host.startsWith('*.')) continue;
    const suffix = pin.host.slice(1); // ".example.com"
    if (!name.endsWith(suffix) || name.length === suffix.length) continue;
    if (suffix.length > best.length) {
      best = suffix;
      found = [];
    }
    if (suffix === best) found.push(pin.address);
  }
  return found;
}

/** IPv4 first, each family in the order given, no duplicates. */
function ipv4First(addresses: string[]): string[] {
  const unique = [...new Set(addresses)];
  return [...unique.filter((a) => isIPv4(a)), ...unique.filter((a) => !isIPv4(a))];
}

/** glibc's largest resolver timeout (RES_MAXRETRANS), seconds. */
const GLIBC_MAX_TIMEOUT_S = 30;

/**
 * Makes the system resolver give up soon after `timeoutMs` (glibc reads RES_OPTIONS when a thread first resolves):
 * one try per nameserver, of the timeout rounded up to whole seconds (glibc's unit). pushcheck stops waiting at
 * `timeoutMs`, but
 * getaddrinfo cannot be cancelled: with resolv.conf's defaults (5 s, 2 attempts) a lookup left behind holds one of
 * libuv's threads, and the process's exit, for about 10 s after the report is out. Options already in RES_OPTIONS
 * are kept; these two come after them, so they win. It changes this process's environment: the CLI calls it
 * before a run, a library user may.
 */
export function fitSystemResolver(timeoutMs: number, env: NodeJS.ProcessEnv = process.env): void {
  const seconds = Math.min(GLIBC_MAX_TIMEOUT_S, Math.max(1, Math.ceil(timeoutMs / 1000)));
  env.RES_OPTIONS = [env.RES_OPTIONS?.trim(), `timeout:${seconds} attempts:1`].filter(Boolean).join(' ');
}

/**
 * The system resolver's answer within `timeoutMs`. A lookup that timed out before it reached the resolver waited for
 * one of libuv's getaddrinfo slots behind slower lookups: its message says so (the resolver is still the slow party,
 * or those lookups would have ended).
 */
async function systemLookupWithin(name: string, timeoutMs: number, signal: AbortSignalLike): Promise<string[]> {
  const lookup = systemLookup(name);
  const start = performance.now();
  try {
    return await bounded(lookup.addresses, 'dns', timeoutMs, signal, lookup.leave);
  } catch (err) {
    // glibc's own timeout (fitSystemResolver: --timeout rounded up to whole seconds) may end a silent lookup a moment
    // before pushcheck's timer does: EAI_AGAIN after the whole timeout is that timeout, not an answer. So it is where
    // a retry joined its name's lookup still under way (systemLookup) and that lookup's timeout ended it soon after.
    const waitedMs = performance.now() - start;
    if (errorCodes(err).includes('EAI_AGAIN')) {
      if (waitedMs >= timeoutMs) throw stoppedFailure('dns', waitedMs, signal);
      const ranMs = lookup.ranMs();
      if (ranMs >= timeoutMs) {
        const joined = `the lookup this attempt joined had waited ${Math.round(ranMs - waitedMs)} ms before it`;
        throw new PhaseError(withContext(stoppedFailure('dns', ranMs, signal).failure, joined), waitedMs);
      }
    }
    if (!(err instanceof PhaseError) || err.failure.code !== 'dns_timeout' || lookup.started()) throw err;
    const context = `never sent: it waited behind ${lookup.ahead} lookups for one of Node's ${resolverSlots()} resolver slots`;
    throw new PhaseError(withContext(err.failure, context), err.durationMs);
  }
}

async function serverLookup(name: string, server: DnsServer, timeoutMs: number, signal: AbortSignalLike): Promise<string[]> {
  // c-ares's own timeout is set a little later than ours so that a silent server is reported by `bounded`,
  // with the time waited, rather than by a bare ETIMEOUT.
  const resolver = new (process.getBuiltinModule('node:dns').promises.Resolver)({ timeout: Math.ceil(timeoutMs) + 250, tries: 1 });
  resolver.setServers([isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`]);
  const [a, aaaa] = await bounded(
    Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]),
    'dns',
    timeoutMs,
    signal,
    () => resolver.cancel(),
  );
  const addresses = [...(a.status === 'fulfilled' ? a.value : []), ...(aaaa.status === 'fulfilled' ? aaaa.value : [])];
  if (addresses.length > 0) return addresses;
  const errors = [a, aaaa].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  // NXDOMAIN for either type means the name does not exist; NODATA for both means it has no address.
  const notFound = errors.find((e) => errorCodes(e).includes('ENOTFOUND'));
  const other = errors.find((e) => !errorCodes(e).includes('ENODATA'));
  throw notFound ?? other ?? errors[0] ?? Object.assign(new Error('no address'), { code: 'ENODATA' });
}

/** Makes the ResolveHost every probe uses. IPv4 addresses come first. */
export function createResolver(options: ResolverOptions): ResolveHost {
  const { dnsServer, pins, timeoutMs } = options;
  return async (host: string, signal: AbortSignalLike, options?: ResolveOptions): Promise<Resolution> => {
    const start = performance.now();
    const name = canonicalHost(host);
    if (ipVersion(name) !== 0) return { addresses: [name], pinned: false, durationMs: 0 };
    const pinned = pinnedAddresses(name, pins);
    if (pinned.length > 0) return { addresses: ipv4First(pinned), pinned: true, durationMs: 0 };
    if (options?.pinnedOnly) return { addresses: [], pinned: false, durationMs: 0 };
    try {
      const addresses = dnsServer
        ? await serverLookup(name, dnsServer, timeoutMs, signal)
        : await systemLookupWithin(name, timeoutMs, signal);
      if (addresses.length === 0) {
        return { addresses: [], pinned: false, durationMs: since(start), failure: failure('dns_no_address', 'dns') };
      }
      const endedAt = performance.now();
      return { addresses: ipv4First(addresses), pinned: false, durationMs: roundMs(endedAt - start), endedAt };
    } catch (err) {
      const fail = err instanceof PhaseError ? err.failure : classifyError(err, 'dns');
      const server = dnsServer && (isIPv6(dnsServer.host) ? `[${dnsServer.host}]` : dnsServer.host);
      return {
        addresses: [],
        pinned: false,
        durationMs: since(start),
        failure: dnsServer ? withContext(fail, `server ${server}:${dnsServer.port}`) : fail,
      };
    }
  };
}
