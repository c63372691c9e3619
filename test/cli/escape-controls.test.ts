/** The one sanitiser for the terminal: control characters shown escaped, never obeyed. */
import { describe, expect, it } from 'vitest';
import { escapeControls, escapeControlsDeep, knownTerminalSize } from '../../src/terminal.js';
import { result, richReport } from '../report/fixture.js';

describe('escapeControls', () => {
  it('shows ESC, BEL, DEL, C1 (a one-byte CSI) and bidi overrides escaped; keeps text, tabs and newlines', () => {
    expect(escapeControls('\u001b[31mred\u001b]0;title\u0007 \u007f \u009b2J \u202egnp.exe ü 🚀\tx\ny')).toBe(
      '\\x1b[31mred\\x1b]0;title\\x07 \\x7f \\x9b2J \\u202egnp.exe ü 🚀\tx\ny',
    );
  });

  it('escapes line breaks and tabs too for a one-line message', () => {
    expect(escapeControls('a\nb\r\tc', { lines: false })).toBe('a\\nb\\r\\tc');
  });

  it('cleans every string of a nested value', () => {
    expect(escapeControlsDeep({ a: ['\u001b'], b: { c: '\u0007', n: 1 } })).toEqual({ a: ['\\x1b'], b: { c: '\\x07', n: 1 } });
  });

  it('hands back a value with nothing to escape as it is, and copies one with a control character, as JSON would', () => {
    const report = richReport();
    expect(escapeControlsDeep(report)).toBe(report);
    const nasty = richReport({ results: [result({ note: 'a\u001b[31mb', timings: { totalMs: -0 } })] });
    const escaped = escapeControlsDeep(nasty);
    expect(escaped).not.toBe(nasty);
    expect(escaped.results[0]!.note).toBe('a\\x1b[31mb');
    expect(Object.is(escaped.results[0]!.timings.totalMs, -0)).toBe(true);
    expect(nasty.results[0]!.note).toBe('a\u001b[31mb');
  });

  it('copies, as before, whatever JSON would change: NaN, undefined, a Date, a toJSON, a class instance', () => {
    const date = new Date(0);
    for (const [given, copied] of [
      [{ n: Number.NaN, m: Infinity }, { n: null, m: null }],
      [{ a: undefined, b: [undefined, 1] }, { b: [null, 1] }],
      [{ d: date }, { d: date.toJSON() }],
      [{ t: { toJSON: () => 'x' } }, { t: 'x' }],
      // An array's toJSON, which JSON calls too.
      [{ t: Object.assign(['a'], { toJSON: () => '\u001b' }) }, { t: '\\x1b' }],
      [{ c: new (class Box { v = 1; })() }, { c: { v: 1 } }],
    ] as const) {
      const result = escapeControlsDeep(given);
      expect(result).not.toBe(given);
      expect(result).toStrictEqual(copied);
    }
  });
});

describe('knownTerminalSize', () => {
  it('believes 1 to 10,000; 0, negatives, fractions, NaN and absurd sizes are unknown', () => {
    expect([1, 80, 10_000].map(knownTerminalSize)).toEqual([1, 80, 10_000]);
    expect([0, -1, 2.5, Number.NaN, 10_001, 65_535, Infinity, undefined, '80'].map(knownTerminalSize)).toEqual(Array(9).fill(undefined));
  });
});
