/**
 * Secrets never leave in a report. Today pushcheck records no secret at all (`--var` values are left out); a
 * credential in a URL (`http://user:password@proxy:3128`), wherever it shows up, is written as `***`.
 */

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

/** `http://user:secret@proxy:3128` → `http://***@proxy:3128`; idempotent. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}

/** A deep copy of `value` with {@link redactText} applied to every string in it. */
export function redactSecrets<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' ? redactText(v) : v)) as T;
}
