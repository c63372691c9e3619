/** Which of Node's own modules a CLI run loaded, by a preload (`node -r`) that writes process.moduleLoadList at its exit. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** Writes the preload into `dir`: run the CLI with `-r preload`, then read `list` (one module a line: `NativeModule net`). */
export function loadListPreload(dir: string): { preload: string; list: string } {
  const preload = path.join(dir, 'load-list.cjs');
  const list = path.join(dir, 'load-list.txt');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));`);
  return { preload, list };
}
