/**
 * Whether a report's deep copy could be skipped: redaction (secrets.ts) and terminal escaping (terminal.ts) each
 * copy a value as JSON would, changing some strings, and hand back the value itself when the copy could differ in
 * nothing. Looking costs a third of copying, and a copy of 1,000 results was garbage the next collection had to scan.
 */

/**
 * Whether a JSON round trip that changes only the strings `keepsText` refuses would give back `value` unchanged:
 * only such strings, finite numbers other than -0, booleans, null, and arrays and plain objects of those. Anything
 * else (undefined, NaN, a Date, a class instance, a toJSON) a copy would change, so the caller makes the copy.
 */
export function unchangedByJson(value: unknown, keepsText: (text: string) => boolean): boolean {
  switch (typeof value) {
    case 'string':
      return keepsText(value);
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'boolean':
      return true;
    case 'object': {
      if (value === null) return true;
      // JSON calls a toJSON wherever it finds one, an array's or an inherited one too.
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) if (!unchangedByJson(value[i], keepsText)) return false;
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) if (!unchangedByJson((value as Record<string, unknown>)[key], keepsText)) return false;
      return true;
    }
    default:
      return false;
  }
}
