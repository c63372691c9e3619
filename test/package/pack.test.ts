/**
 * pushcheck as a user's project gets it: `npm pack`, installed by name into a fresh project, imported through
 * `exports` (`pushcheck`, `pushcheck/harness`), its type declarations read by tsc, and docs/harness.md's vitest
 * example run there as written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packedTarball } from '../helpers/packed.js';

const ROOT = resolve(import.meta.dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/index.d.ts')) || !existsSync(join(ROOT, 'dist/harness/index.d.ts'))) {
    throw new Error('dist/ has no type declarations: run npm run build first (npm test does)');
  }
  project = mkdtempSync(join(tmpdir(), 'pushcheck-consumer-'));
  // dist/ is built already (npm test builds first): packed as it is, once for test/ship too.
  const tarball = await packedTarball();
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Dependencies come from the npm cache that npm ci filled, or from the registry.
  execFileSync(npm, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, stdio: 'pipe' });
}, 240_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

const node = (code: string) => spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: project, encoding: 'utf8', timeout: 60_000 });

describe('the packed package, installed by name', () => {
  it('pushcheck/harness starts the harness; pushcheck exports the checker', () => {
    const r = node(`
      import { startHarness } from 'pushcheck/harness';
      import { runChecks, parseRuleSet, checkSettings, formatNames } from 'pushcheck';
      const h = await startHarness();
      const root = await (await fetch('http://127.0.0.1:' + h.endpoints.admin.port + '/')).json();
      // A rule set of one's own, run with the CLI's defaults but a short timeout: the admin port answers, port 1 does not.
      const rules = parseRuleSet([
        'id: mine', 'title: Mine', 'rules:',
        '  - { id: admin, host: 127.0.0.1, ports: [' + h.endpoints.admin.port + ', 1], check: tcp, purpose: Admin, impact: None, severity: critical }',
      ].join('\\n'), 'mine.yaml');
      const settings = checkSettings({ timeoutMs: 2000 });
      const report = await runChecks([rules], settings);
      await h.close();
      console.log(JSON.stringify({
        topic: root.mdmTopic === h.mdmTopic, parseRuleSet: typeof parseRuleSet, formats: formatNames,
        concurrency: settings.concurrency, recordedTimeout: report.options.timeoutMs,
        statuses: report.results.map((x) => x.port + ' ' + x.status).sort(),
      }));
    `);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      topic: true,
      parseRuleSet: 'function',
      formats: expect.arrayContaining(['json', 'junit']),
      concurrency: 64,
      recordedTimeout: 2000,
      statuses: ['1 fail', expect.stringMatching(/^\d+ pass$/)],
    });
  });

  it('holds the report schema (schemas/report.schema.json), as the repository has it', () => {
    const installed = join(project, 'node_modules/pushcheck/schemas/report.schema.json');
    expect(readFileSync(installed, 'utf8')).toBe(readFileSync(join(ROOT, 'schemas/report.schema.json'), 'utf8'));
  });

  it('paths not in exports stay private', () => {
    const r = node(`await import('pushcheck/dist/harness/index.js');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  // One tsc program holds both files (a compile takes 2.5 s of CPU, 15 s and more at load 14): the right one must
  // compile, the wrong one fail, each on its own line of tsc's output.
  it('tsc reads the declarations through exports: right uses compile, a wrong one does not', () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const config = { compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] } };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ ...config, files: ['use.ts', 'wrong.ts'] }));
    writeFileSync(
      join(project, 'use.ts'),
      `import { startHarness, type Harness, type SimulationReport } from 'pushcheck/harness';
       import { runChecks, type Report, type Result } from 'pushcheck';
       export async function use(): Promise<number> {
         const h: Harness = await startHarness({ seed: 2 });
         const port: number = h.endpoints.apns.port;
         const topic: string = h.credentials.provider.topic;
         await h.close();
         const first = (r: Report): Result | undefined => r.results[0];
         const acked = (s: SimulationReport): number => s.summary.actionsAcknowledged;
         return port + topic.length + runChecks.length + first.length + acked.length;
       }\n`,
    );
    writeFileSync(join(project, 'wrong.ts'), `import { startHarness } from 'pushcheck/harness';\nconst port: string = (await startHarness()).endpoints.apns.port;\nexport { port };\n`);
    const compiled = spawnSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { cwd: project, encoding: 'utf8' });
    expect(compiled.stderr).toBe('');
    expect(compiled.status).not.toBe(0);
    expect(compiled.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^wrong\.ts\(2,7\): error TS2322: Type 'number' is not assignable to type 'string'\.$/)]);
  }, 120_000);

  it('docs/harness.md’s vitest example passes as written, against the installed package', () => {
    const docs = readFileSync(join(ROOT, 'docs/harness.md'), 'utf8');
    const example = /```ts\n(\/\/ push\.test\.ts\n[\s\S]*?)```/.exec(docs)?.[1];
    expect(example).toContain("from 'pushcheck/harness'");
    mkdirSync(join(project, 'test'), { recursive: true });
    writeFileSync(join(project, 'test/push.test.ts'), example!);
    // The user installs vitest; here the project's own copy stands in for it.
    symlinkSync(join(ROOT, 'node_modules/vitest'), join(project, 'node_modules/vitest'), 'dir');
    // The example as written; only the runner's hang guards (vitest's 10 s for a hook by default) are a busy machine's,
    // where starting the harness took longer.
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', project, '--hookTimeout', '60000', '--testTimeout', '60000'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, CI: '', NO_COLOR: '1' },
    });
    expect(r.stdout + r.stderr).toMatch(/Tests\s+2 passed \(2\)/);
    expect(r.status).toBe(0);
  }, 150_000);
});
