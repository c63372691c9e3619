/** The one sanitiser for the terminal: control characters shown escaped, never obeyed. */
import { describe, expect, it } from 'vitest';
import { escapeControls, escapeControlsDeep, knownTerminalSize } from '../../src/terminal.js';

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
});

describe('knownTerminalSize', () => {
  it('believes 1 to 10,000; 0, negatives, fractions, NaN and absurd sizes are unknown', () => {
    expect([1, 80, 10_000].map(knownTerminalSize)).toEqual([1, 80, 10_000]);
    expect([0, -1, 2.5, Number.NaN, 10_001, 65_535, Infinity, undefined, '80'].map(knownTerminalSize)).toEqual(Array(9).fill(undefined));
  });
});
