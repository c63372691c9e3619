// Makes a bundle esbuild wrote one byte a character (scripts/bundle.mjs for dist/bundle/, scripts/build-sea.mjs for
// the single executable's). Node reads a file into a V8 string of one byte a character only when it holds no
// character above U+00FF, and decodes it at full speed only as far as its first one outside ASCII: esbuild escapes
// such characters in code, not in the comments it keeps, and one "…" in a comment made check.cjs a two-byte string,
// decoded character by character on every run (6 million instructions before a check's first connect; lib/undici.cjs,
// twice check.cjs's size, has 36 such). Each is replaced by "?", one for each UTF-16 unit, so that no column of the
// source maps moves; and the file must minify to the same code as before, which proves that only comments changed.
// A legal comment (`/*!`, `//!`, `@license`, `@preserve`; esbuild puts them at the end of a bundle) keeps its Latin-1
// letters, so that a licence names its authors as they spell themselves ("Jimmy Wärting"), at the cost of decoding
// only what follows it.
import { readFileSync, writeFileSync } from 'node:fs';
import { transform } from 'esbuild';

const LEGAL_COMMENT = /\/\*![\s\S]*?\*\/|\/\/![^\n]*|\/\*(?:(?!\*\/)[\s\S])*?@(?:license|preserve)[\s\S]*?\*\/|\/\/[^\n]*@(?:license|preserve)[^\n]*/g;

/** `code` with each character outside ASCII replaced by "?", except Latin-1 ones inside legal comments. */
export function oneByteText(code) {
  const legal = [...code.matchAll(LEGAL_COMMENT)].map((m) => [m.index, m.index + m[0].length]);
  const inLegal = (at) => legal.some(([start, end]) => at >= start && at < end);
  return code.replace(/[^\x00-\x7f]/g, (char, at) => (char.charCodeAt(0) <= 0xff && inLegal(at) ? char : '?'));
}

/** Rewrites `file` (a .js or .cjs bundle) by oneByteText; throws, leaving it as it is, where that would change its code. */
export async function oneByteOnly(file) {
  const code = readFileSync(file, 'utf8');
  const rewritten = oneByteText(code);
  if (rewritten === code) return;
  const format = file.endsWith('.cjs') ? 'cjs' : 'esm';
  const same = async (text) => (await transform(text, { minifyWhitespace: true, legalComments: 'none', charset: 'ascii', format })).code;
  if ((await same(rewritten)) !== (await same(code))) throw new Error(`${file}: a character outside ASCII is not in a comment; it cannot be replaced`);
  writeFileSync(file, rewritten);
}
