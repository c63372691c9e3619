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
    value = Buffer.from(body.subarray(0, 8)).equals(BINARY_MAGIC) ? parseBinary(body) : parse(Buffer.from(body).toString('utf8'));
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
