/**
 * The URLs a url rule may name, as the probe registry declares them: each check's `schemes` (https → the https
 * check, default port 443). The loader, the expander and the demo ask here instead of switching on http and https.
 */
import { article, orList } from '../fields.js';
import { checkNames, checkOf } from '../probes/index.js';
import type { CheckKind } from '../types.js';

/** A url that is all placeholders (`${messageUrl}`) and names no check is taken as this scheme's. */
const DEFAULT_SCHEME = 'https';

/** scheme (lower case, no ":") → the check a url of it gets and the scheme's default port, in registry order. */
const SCHEMES: ReadonlyMap<string, { check: CheckKind; defaultPort: number }> = new Map(
  checkNames.flatMap((name) => Object.entries(checkOf(name).schemes ?? {}).map(([scheme, defaultPort]) => [scheme, { check: name, defaultPort }] as const)),
);

/** The checks a url's scheme can give, in registry order (http, https). */
export const schemeChecks: readonly CheckKind[] = [...new Set([...SCHEMES.values()].map(({ check }) => check))];

/** What such a url is, completing "is not …" or "needs …": `an http:// or https:// URL`. */
export const URL_FORM = ((schemes) => `${article(schemes[0] ?? '')} ${orList(schemes)} URL`)([...SCHEMES.keys()].map((scheme) => `${scheme}://`));

/** The written scheme of a url or url template (`https://${host}/x` → https); undefined when it does not start with one. */
export function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
}

/** The check a url's written scheme gives; a template without one (`${messageUrl}`) gets none. */
export function checkOfScheme(scheme: string | undefined): CheckKind | undefined {
  return scheme === undefined ? undefined : SCHEMES.get(scheme)?.check;
}

/** The check of a url rule that neither its url nor the rule names. */
export function defaultUrlCheck(): CheckKind {
  return checkOfScheme(DEFAULT_SCHEME) as CheckKind;
}

/** The port a url of this check names when it names none (443 for https). */
export function defaultPortOf(check: CheckKind): number {
  const found = [...SCHEMES.values()].find((entry) => entry.check === check);
  if (!found) throw new Error(`check "${check}" takes no url scheme`);
  return found.defaultPort;
}

/** What a concrete url gives a target; undefined when it is not a url of a registered scheme with a host. */
export function parseUrl(text: string): { host: string; port: number; check: CheckKind; url: string } | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const scheme = SCHEMES.get(url.protocol.slice(0, -1));
  if (!scheme || url.hostname === '') return undefined;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? scheme.defaultPort : Number(url.port),
    check: scheme.check,
    url: url.href,
  };
}
