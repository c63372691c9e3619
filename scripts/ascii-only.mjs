// Makes a bundle esbuild wrote ASCII alone (scripts/bundle.mjs for dist/bundle/, scripts/build-sea.mjs for the single
// executable's). Node reads a file into a V8 string of one byte a character only when it holds no other character:
// esbuild escapes them in code, not in the comments it keeps, and one "…" in a comment made check.cjs a two-byte
// string, decoded character by character on every run (6 million instructions before a check's first connect;
// lib/undici.cjs, twice check.cjs's size, has 36 such). Each is replaced by "?", one for each UTF-16 unit, so that no
// column of the source maps moves; and the file must minify to the same code as before, which proves that only
// comments changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { transform } from 'esbuild';

/** Rewrites `file` (a .js or .cjs bundle) in ASCII alone; throws, leaving it as it is, where that would change its code. */
export async function asciiOnly(file) {
  const code = readFileSync(file, 'utf8');
  const ascii = code.replace(/[^\x00-\x7f]/g, '?');
  if (ascii === code) return;
  const format = file.endsWith('.cjs') ? 'cjs' : 'esm';
  const same = async (text) => (await transform(text, { minifyWhitespace: true, legalComments: 'none', charset: 'ascii', format })).code;
  if ((await same(ascii)) !== (await same(code))) throw new Error(`${file}: a character outside ASCII is not in a comment; it cannot be replaced`);
  writeFileSync(file, ascii);
}
