import { readFileSync } from 'node:fs';
import { packageUrl } from './package-root.js';

/** pushcheck's own version, read once from package.json. */
export const version: string = (
  JSON.parse(readFileSync(packageUrl('package.json'), 'utf8')) as { version: string }
).version;
