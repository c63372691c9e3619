/**
 * Property lists, as Apple's MDM protocol carries them: XML or binary (`bplist00`) in, XML out (what MDM
 * servers send). The `plist` package reads and writes both forms (XML through xmldom); this module only picks
 * the form and turns a malformed body into a 400.
 */
import { build, buildBinary, parse, parseBinary, type PlistValue } from 'plist';
import { HttpError } from './http.js';

export type { PlistValue };
export type PlistDict = { [key: string]: PlistValue };

const BINARY_MAGIC = Buffer.from('bplist00');

/** A request body as a dictionary: binary when it starts with `bplist00`, XML otherwise. */
export function decodePlistDict(body: Uint8Array): PlistDict {
  let value: PlistValue;
  try {
    if (Buffer.from(body.subarray(0, 8)).equals(BINARY_MAGIC)) {
      value = parseBinary(body);
    } else {
      const text = Buffer.from(body).toString('utf8');
      // Not XML at all (JSON, plain text): refused here, before the XML parser writes its complaint to stderr.
      if (!/^\uFEFF?\s*</.test(text)) throw new Error('not XML');
      value = parse(text);
    }
  } catch {
    throw new HttpError(400, 'body is not a property list');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || value instanceof Date) {
    throw new HttpError(400, 'body is not a property list dictionary');
  }
  return value;
}

export function encodePlistXml(value: PlistValue): string {
  return build(value);
}

export function encodePlistBinary(value: PlistValue): Buffer {
  return Buffer.from(buildBinary(value));
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A property list value as JSON: data as base64 text, dates as ISO 8601 text (what the admin API shows). */
export function plistToJson(value: PlistValue): JsonValue {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plistToJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plistToJson(v)]));
  return value as JsonValue;
}
