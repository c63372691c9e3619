/**
 * A CA file named on the command line (`--ca`, `pushcheck harness --mdm-ca`), read and checked. A file of its own so
 * that each command loads it without loading another command's module.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { cryptoModule } from '../v8-defaults.js';

/**
 * The PEM text of the CA file `file`, given with `option`; a missing file, one without a certificate or one with a
 * corrupt certificate anywhere in it is a one-line UsageError naming the option and the file.
 */
export function readCaFile(option: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`${option} ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  }
  // Node would skip a corrupt block silently, and the CA the user meant would be missing from the run. node:crypto
  // through cryptoModule: a check's first use of it, under V8's default flags (src/v8-defaults.ts).
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?(?:-----END CERTIFICATE-----|$)/g) ?? [];
  blocks.forEach((block, i) => {
    try {
      new (cryptoModule().X509Certificate)(block);
    } catch {
      throw new UsageError(`${option} ${file}: certificate ${i + 1} of ${blocks.length} is not a valid certificate (corrupt between its PEM markers)`);
    }
  });
  return text;
}
