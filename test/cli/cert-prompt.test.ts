/**
 * The passphrase prompt on a real terminal: util-linux `script` gives pushcheck a pseudo-terminal, the test types
 * the passphrase into it (script itself echoes nothing: -E never), and nothing typed comes back in what it shows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { hasTool } from '../helpers/tools.js';
import { createIssuer, exportPkcs12, hasOpenssl, pushCertificate } from '../helpers/push-credentials.js';

function hasScript(): boolean {
  return hasTool('script', ['--version'], 'the prompt test: no util-linux script to give pushcheck a terminal');
}

const dir = mkdtempSync(join(tmpdir(), 'pushcheck-prompt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOpenssl() || !hasScript())('the passphrase prompt', () => {
  it('asks on the terminal, reads without echo, and opens the file', async () => {
    const passphrase = 'typed-at-the-prompt-42';
    const credential = await pushCertificate({ issuer: await createIssuer(), topic: 'com.example.prompt' });
    const file = exportPkcs12(dir, 'prompt', credential, passphrase);
    const child = spawn('script', ['-E', 'never', '-qefc', `${process.execPath} ${BIN} cert --no-color ${file}`, '/dev/null'], {
      env: { ...process.env, CI: '', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let shown = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      shown += chunk;
      if (shown.includes('Passphrase for') && !child.stdin.writableEnded) child.stdin.write(`${passphrase}\r`);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(shown).toContain(`Passphrase for ${file}: `);
    expect(shown).toContain('com.example.prompt');
    expect(shown).not.toContain(passphrase);
    expect(code).toBe(0);
  }, 70_000);
});
