import { readFileSync } from 'node:fs';

/** pushcheck's own version, read once from package.json (two levels up from both src/ and dist/). */
export const version: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
