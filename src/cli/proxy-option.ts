/**
 * --proxy as the user types it: parsed into a Proxy for the probes (every mistake a one-line UsageError), and
 * written back, password masked, as the report records it. The tunnel itself is probes/proxy.ts's.
 */
import { isIPv6 } from 'node:net';
import { UsageError } from '../errors.js';
import { authority, SOCKS_MAX_CREDENTIAL_BYTES } from '../probes/proxy.js';
import { parseNoProxy, type NoProxyEntry } from '../probes/proxy-env.js';
import type { Proxy, ProxyProtocol } from '../probes/types.js';
import { maskCredentials, maskPassword } from '../secrets.js';

/** socks5h:// is curl's name for "the proxy resolves the name", which socks5:// always does here. */
const SCHEMES: Record<string, ProxyProtocol> = { http: 'http', socks5: 'socks5', socks5h: 'socks5' };
// The userinfo runs to the last @, as in a browser: a password may hold an unescaped @.
const PROXY_URL = /^([a-z][a-z0-9+.-]*):\/\/(?:(.*)@)?(\[[^\]]*\]|[^:/?#@[\]]*)(?::([^/?#]*))?\/?$/i;
const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;
const EXAMPLE_PORTS: Record<ProxyProtocol, number> = { http: 3128, socks5: 1080 };

/**
 * Parses `http://[user:pass@]host:port` or `socks5://[user:pass@]host:port`; every mistake is a one-line UsageError
 * that starts with `label`: the option or environment variable the text came from.
 */
export function parseProxy(text: string, label = '--proxy'): Proxy {
  const trimmed = text.trim();
  const where = `${label} "${maskCredentials(trimmed)}"`;
  const match = PROXY_URL.exec(trimmed);
  if (!match) {
    throw new UsageError(`${where}: expected http://[user:pass@]host:port (HTTP CONNECT) or socks5://[user:pass@]host:port`);
  }
  const [, scheme = '', userinfo, hostText = '', portText] = match;
  const protocol = SCHEMES[scheme.toLowerCase()];
  if (!protocol) throw new UsageError(`${where}: unknown scheme "${scheme}"; expected http:// (HTTP CONNECT) or socks5://`);
  const bracketed = hostText.startsWith('[');
  const host = bracketed ? hostText.slice(1, -1) : hostText;
  if (host === '') throw new UsageError(`${where}: the host is missing`);
  if (bracketed ? !isIPv6(host) : !HOST_NAME.test(host)) {
    throw new UsageError(`${where}: "${hostText}" is not a host name or IP address`);
  }
  if (!portText) throw new UsageError(`${where}: the port is missing, e.g. ${scheme}://${hostText}:${EXAMPLE_PORTS[protocol]}`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`${where}: the port must be a number from 1 to 65535`);
  if (userinfo === undefined) return { protocol, host, port };

  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(`${where}: the user name or password has a bad %-escape`);
    }
  };
  const colon = userinfo.indexOf(':');
  const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1));
  if (!user) throw new UsageError(`${where}: the user name is missing before the password`);
  if (protocol === 'socks5' && [user, password ?? ''].some((part) => Buffer.byteLength(part) > SOCKS_MAX_CREDENTIAL_BYTES)) {
    throw new UsageError(`${where}: SOCKS5 takes a user name and password of at most ${SOCKS_MAX_CREDENTIAL_BYTES} bytes each`);
  }
  return { protocol, host, port, user, ...(password !== undefined && { password }) };
}

/** The proxy as a report records it: `http://user:***@host:port`. */
export function proxyUrl(proxy: Proxy): string {
  return `${proxy.protocol}://${maskPassword(proxy.user, proxy.password)}${authority(proxy.host, proxy.port)}`;
}

/** The variables read for a proxy, in the order curl tries them (lower case first). */
export const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'] as const;
const NO_PROXY_VARIABLES = ['no_proxy', 'NO_PROXY'] as const;

/** A proxy the environment names, with the hosts NO_PROXY exempts. */
export interface EnvironmentProxy {
  proxy: Proxy;
  /** The variable it came from, e.g. `HTTPS_PROXY`. */
  source: string;
  noProxy: NoProxyEntry[];
  /** NO_PROXY's entries as written, for the report (they hold no secret). */
  noProxyText: string[];
}

function firstSet(env: NodeJS.ProcessEnv, names: readonly string[]): [string, string] | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return [name, value];
  }
  return undefined;
}

/**
 * The proxy the environment names, as curl reads it: `https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY`, the
 * first one set (an empty value counts as unset; every pushcheck target is a TLS or TCP tunnel, so the https
 * variables are the ones that apply). A value without a scheme is an HTTP proxy, as in curl. A value that is not
 * a proxy URL is a one-line UsageError naming the variable, with any password masked.
 */
export function proxyFromEnvironment(env: NodeJS.ProcessEnv): EnvironmentProxy | undefined {
  const found = firstSet(env, PROXY_VARIABLES);
  if (!found) return undefined;
  const [source, value] = found;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const noProxyText = (firstSet(env, NO_PROXY_VARIABLES)?.[1] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return { proxy: parseProxy(url, source), source, noProxy: parseNoProxy(noProxyText.join(',')), noProxyText };
}
