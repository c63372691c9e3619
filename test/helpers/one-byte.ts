/**
 * Whether `text` (a bundle scripts/one-byte.mjs rewrote) holds one byte a character, and outside ASCII only inside
 * the licence comment it ends with (esbuild's "Bundled license information" or a lone `/*! … *\/`; a source map's
 * line may follow), so that Node decodes all its code at full speed.
 */
export function outsideAsciiOnlyInClosingLicence(text: string): boolean {
  if (/[^\x00-\xff]/.test(text)) return false;
  const first = text.search(/[^\x00-\x7f]/);
  if (first < 0) return true;
  const licence = text.lastIndexOf('/*!', first);
  const end = text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '').trimEnd();
  return licence >= 0 && end.endsWith('*/') && text.indexOf('*/', licence) === end.length - 2;
}
