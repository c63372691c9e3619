/**
 * Masking and redaction, the one place that knows how a secret is hidden; every layer that shows text uses it.
 * Secrets never leave in a report. pushcheck records none: `--var` values are left out, and the --proxy password is
 * recorded masked (`http://user:***@proxy:3128`). Any other credential in a URL (`http://user:password@proxy:3128`),
 * wherever it shows up, is written as `***`.
 */
import { unchangedByJson } from './json-unchanged.js';

// A userinfo already masked by maskPassword (`user:***@`) is left as it is, so that the user stays readable. The
// userinfo runs to the last @ before the path, as browsers read it: a password may hold an unescaped @.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)(?![^\s/?#@:]*:\*\*\*@[^\s/?#@]*(?:[\s/?#]|$))[^\s/?#]+@/gi;

/** `http://user:secret@proxy:3128` → `http://***@proxy:3128`; idempotent. */
export function redactText(text: string): string {
  // Nearly every text has no @ at all: no pattern to run.
  return text.includes('@') ? text.replace(URL_CREDENTIALS, '$1***@') : text;
}

/**
 * Every form in which pushcheck sends a user name and password (plain, %-encoded as in a URL, `user:password` in
 * base64 as in `Proxy-Authorization: Basic`), longest first so that a longer form is masked whole.
 */
function credentialForms(user: string, password: string): string[] {
  const pair = `${user}:${password}`;
  const forms = [password, encodeURIComponent(password), pair, `${encodeURIComponent(user)}:${encodeURIComponent(password)}`];
  forms.push(Buffer.from(pair).toString('base64'), Buffer.from(pair).toString('base64').replace(/=+$/, ''));
  return [...new Set(forms.filter(Boolean))].sort((a, b) => b.length - a.length);
}

/** `text` (something a proxy said back) with the credentials masked as `***` in every form they were sent. */
export function maskSentCredentials(text: string, user: string | undefined, password: string | undefined): string {
  // Without a password nothing secret was sent: a user name alone is not masked.
  if (user === undefined || !password) return text;
  let masked = text;
  for (const form of credentialForms(user, password)) masked = masked.split(form).join('***');
  return masked;
}

/** `user` and `password` as they go before a host in a URL: `user:***@`, `user@`, or nothing. */
export function maskPassword(user: string | undefined, password: string | undefined): string {
  if (user === undefined) return '';
  return `${encodeURIComponent(user)}${password === undefined ? '' : ':***'}@`;
}

/**
 * `value` as JSON carries it, with {@link redactText} applied to every string in it: a deep copy, or `value` itself
 * when the copy could differ in nothing (no string has an @, see json-unchanged.ts).
 */
export function redactSecrets<T>(value: T): T {
  if (unchangedByJson(value, hasNoAt)) return value;
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' ? redactText(v) : v)) as T;
}

const hasNoAt = (text: string): boolean => !text.includes('@');

/** A URL-like text (a --proxy as typed) as an error message may show it: anything up to the last @ masked. */
export function maskCredentials(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  return `${scheme}***@${text.slice(at + 1)}`;
}
