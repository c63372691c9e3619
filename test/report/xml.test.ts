/** The XML escape, read back by a real parser (xmllint): what goes in comes out, minus what XML cannot carry. */
import { describe, expect, it } from 'vitest';
import { xmlAttributes, xmlEscape, xmlText } from '../../src/report/xml.js';
import { xpath } from './consumers.js';

const R = '\uFFFD';

const cases: Array<[string, string, string]> = [
  ['markup and quotes', `<a href="x">&amp; 'y'</a> ]]>`, `<a href="x">&amp; 'y'</a> ]]>`],
  ['non-ASCII and astral characters', 'Can’t · ü · 漢字 · 🚀', 'Can’t · ü · 漢字 · 🚀'],
  ['C0 controls other than tab and line breaks', 'a\u0000b\u0008c\u000Bd\u000Ce\u001Ff\u001b[31m', `a${R}b${R}c${R}d${R}e${R}f${R}[31m`],
  ['lone surrogates, high and low', 'x\uD800y\uDC00z', `x${R}y${R}z`],
  ['the non-characters U+FFFE and U+FFFF', 'p\uFFFEq\uFFFFr', `p${R}q${R}r`],
  ['a surrogate pair stays whole', '\uD83D\uDE80', '🚀'],
];

describe('xmlEscape in an attribute', () => {
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const doc = `<?xml version="1.0" encoding="UTF-8"?><r${xmlAttributes({ v: input })}/>`;
      expect(xpath(doc, 'string(/r/@v)')).toBe(expected);
    });
  }

  it('keeps tabs and line breaks in an attribute (no attribute-value normalisation)', () => {
    const doc = `<r v="${xmlEscape('a\tb\nc\r\nd')}"/>`;
    expect(xpath(doc, 'string(/r/@v)')).toBe('a\tb\nc\r\nd');
  });

  it('works in single-quoted attributes too', () => {
    const doc = `<r v='${xmlEscape(`it's "quoted"`)}'/>`;
    expect(xpath(doc, 'string(/r/@v)')).toBe(`it's "quoted"`);
  });
});

describe('xmlText in an element', () => {
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(xpath(`<r>${xmlText(input)}</r>`, 'string(/r)')).toBe(expected);
    });
  }

  it('keeps line breaks, including a carriage return', () => {
    expect(xpath(`<r>${xmlText('one\ntwo\r\nthree')}</r>`, 'string(/r)')).toBe('one\ntwo\r\nthree');
  });
});

describe('xmlAttributes', () => {
  it('leaves out undefined values and keeps zero', () => {
    expect(xmlAttributes({ a: 'x', b: undefined, c: 0 })).toBe(' a="x" c="0"');
  });
});
