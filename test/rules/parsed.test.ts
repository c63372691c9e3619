/**
 * A user's rule file as an earlier run parsed it (src/rules/parsed.ts): what parsing gives, used only by the same
 * build, for the same text at the same path, never for a rule set with credentials; and through bin/, a changed file
 * gets its new verdict.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheChecksum, temporaryPlace } from '../../src/cache-folder.js';
import { loadRuleSetFile, parseRuleSet } from '../../src/rules/load.js';
import { bundledBuildId, keepParsed, KEPT_FILES, keptPlace, parsedBefore } from '../../src/rules/parsed.js';
import { BIN } from '../helpers/cli.js';
import { ruleSetYaml, writeRuleFile } from '../helpers/rule-file.js';
import { startTcpServer } from '../helpers/servers.js';

const FULL = path.resolve(import.meta.dirname, '../fixtures/rules/valid-full.yaml');
const BUILD = 'build-a';

describe('rule files parsed before', () => {
  let dir: string;
  let cache: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-parsed-'));
    cache = path.join(dir, 'cache');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('give what parsing gives, with the file as named now; outside a bundle (vitest) nothing is kept', () => {
    const file = path.join(dir, 'full.yaml');
    cpSync(FULL, file);
    const text = readFileSync(file, 'utf8');
    const parsed = parseRuleSet(text, file);
    keepParsed(file, text, parsed, BUILD, cache);
    expect(parsedBefore(file, text, BUILD, cache)).toEqual(parsed);
    // The same file named another way (relative): the same kept set, with the name as given.
    const relative = path.relative(process.cwd(), file);
    expect(parsedBefore(relative, text, BUILD, cache)).toEqual({ ...parsed, file: relative });
    expect(bundledBuildId).toBeUndefined();
    expect(parsedBefore(file, text, undefined, cache)).toBeUndefined();
  });

  it('are not used for another build or Node, another text (one byte), another path, a damaged file (one byte), or with NODE_DISABLE_COMPILE_CACHE', () => {
    const file = path.join(dir, 'full.yaml');
    cpSync(FULL, file);
    const text = readFileSync(file, 'utf8');
    keepParsed(file, text, parseRuleSet(text, file), BUILD, cache);
    expect(parsedBefore(file, text, BUILD, cache)).toBeDefined();
    expect(parsedBefore(file, text, 'build-b', cache)).toBeUndefined();
    expect(parsedBefore(file, `${text}\n`, BUILD, cache)).toBeUndefined();
    expect(parsedBefore(file, text.replace('critical', 'warning'), BUILD, cache)).toBeUndefined();
    expect(parsedBefore(path.join(dir, 'other.yaml'), text, BUILD, cache)).toBeUndefined();
    process.env.NODE_DISABLE_COMPILE_CACHE = '1';
    try {
      expect(parsedBefore(file, text, BUILD, cache)).toBeUndefined();
    } finally {
      delete process.env.NODE_DISABLE_COMPILE_CACHE;
    }
    // Written as keepParsed writes, behind a checksum that holds, so that what is judged is the content.
    const keep = (json: string): void => writeFileSync(keptPlace(file, cache), `${cacheChecksum(json)}\n${json}`);
    const kept = readFileSync(keptPlace(file, cache), 'utf8');
    keep(kept.slice(kept.indexOf('\n') + 1).replace(`"node":"${process.version}"`, '"node":"v0.0.1"'));
    expect(parsedBefore(file, text, BUILD, cache), 'kept by another Node').toBeUndefined();
    for (const damage of ['', '{"build":"build-a"', 'null', '42', JSON.stringify({ build: BUILD, node: process.version, path: file, text })]) {
      keep(damage);
      expect(parsedBefore(file, text, BUILD, cache), damage).toBeUndefined();
      writeFileSync(keptPlace(file, cache), damage);
      expect(parsedBefore(file, text, BUILD, cache), `${damage} without a checksum`).toBeUndefined();
    }
    // Damage that leaves valid JSON: one byte of the set changed on disk (port 443 read as 447), or the file cut short.
    keepParsed(file, text, parseRuleSet(text, file), BUILD, cache);
    const whole = readFileSync(keptPlace(file, cache), 'utf8');
    expect(whole).toContain('"ports":[443,');
    writeFileSync(keptPlace(file, cache), whole.replace('"ports":[443,', '"ports":[447,'));
    expect(parsedBefore(file, text, BUILD, cache), 'a changed byte').toBeUndefined();
    writeFileSync(keptPlace(file, cache), whole.slice(0, whole.indexOf('"set":')));
    expect(parsedBefore(file, text, BUILD, cache), 'cut short').toBeUndefined();
  });

  it('never keep a rule set with credentials: whether their files exist is not in the text', () => {
    const file = path.join(dir, 'with-credentials.yaml');
    writeFileSync(path.join(dir, 'push.pem'), 'not read while parsing\n');
    const text = ruleSetYaml('mine', 'mine', [{ id: '1', host: '127.0.0.1', ports: [1], check: 'tcp' }]).replace('rules:', 'credentials:\n  - push.pem\nrules:');
    writeFileSync(file, text);
    const parsed = parseRuleSet(text, file);
    expect(parsed.credentials).toHaveLength(1);
    keepParsed(file, text, parsed, BUILD, cache);
    expect(parsedBefore(file, text, BUILD, cache)).toBeUndefined();
  });

  it("are the user's alone: the folder 0700, each kept file 0600, whatever the umask", () => {
    const file = path.join(dir, 'full.yaml');
    cpSync(FULL, file);
    const text = readFileSync(file, 'utf8');
    const before = process.umask(0o000);
    try {
      keepParsed(file, text, parseRuleSet(text, file), BUILD, cache);
    } finally {
      process.umask(before);
    }
    expect(statSync(path.join(cache, 'rule-files')).mode & 0o777).toBe(0o700);
    expect(statSync(keptPlace(file, cache)).mode & 0o777).toBe(0o600);
  });

  it(`keep the ${KEPT_FILES} most recently written`, () => {
    const text = ruleSetYaml('mine', 'mine', [{ id: '1', host: '127.0.0.1', ports: [1], check: 'tcp' }]);
    const files = Array.from({ length: KEPT_FILES + 3 }, (_, i) => path.join(dir, `rules-${i}.yaml`));
    files.forEach((file, i) => {
      keepParsed(file, text, parseRuleSet(text, file), BUILD, cache);
      // Written a second apart, oldest first, whatever the file system's clock resolution.
      utimesSync(keptPlace(file, cache), 1_000_000 + i, 1_000_000 + i);
    });
    keepParsed(files.at(-1)!, text, parseRuleSet(text, files.at(-1)!), BUILD, cache);
    expect(readdirSync(path.join(cache, 'rule-files'))).toHaveLength(KEPT_FILES);
    expect(parsedBefore(files[0]!, text, BUILD, cache)).toBeUndefined();
    expect(parsedBefore(files.at(-1)!, text, BUILD, cache)).toBeDefined();
  });

  it("remove, when they keep one, the temporary file of a run killed before its rename (its writer's process gone)", () => {
    const text = ruleSetYaml('mine', 'mine', [{ id: '1', host: '127.0.0.1', ports: [1], check: 'tcp' }]);
    const file = path.join(dir, 'rules.yaml');
    const ended = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8', timeout: 30_000 }).stdout);
    const leftover = temporaryPlace(keptPlace(path.join(dir, 'other.yaml'), cache), ended);
    mkdirSync(path.dirname(leftover), { recursive: true });
    writeFileSync(leftover, '{"half": ');
    utimesSync(leftover, Date.now() / 1000 - 120, Date.now() / 1000 - 120);
    keepParsed(file, text, parseRuleSet(text, file), BUILD, cache);
    expect(readdirSync(path.join(cache, 'rule-files'))).toEqual([path.basename(keptPlace(file, cache))]);
  });

  it('through bin/: the second run uses what the first kept, and a changed file is parsed again and judged anew', async () => {
    const open = await startTcpServer();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      const { port } = open;
      const file = path.join(dir, 'mine.yaml');
      writeRuleFile(file, 'mine', 'mine', [{ id: '1', host: '127.0.0.1', ports: [port], check: 'tcp' }]);
      mkdirSync(cache);
      const check = () => {
        const out = spawnSync(process.execPath, [BIN, file, '-f', 'json', '-t', '2000'], {
          encoding: 'utf8',
          timeout: 30_000,
          env: { ...process.env, NODE_DEBUG: 'pushcheck', XDG_CACHE_HOME: cache },
        });
        const report = JSON.parse(out.stdout) as { results: Array<{ port: number; status: string }> };
        return { code: out.status, stderr: out.stderr, results: report.results.map((r) => ({ port: r.port, status: r.status })) };
      };
      const first = check();
      expect(first.stderr).toMatch(/rule file \S+mine\.yaml: kept/);
      const second = check();
      expect(second.stderr).toMatch(/rule file \S+mine\.yaml: as parsed before/);
      expect(second).toMatchObject({ code: 0, results: first.results });
      expect(first.results).toEqual([{ port, status: 'pass' }]);
      writeRuleFile(file, 'mine', 'mine', [{ id: '1', host: '127.0.0.1', ports: [closedPort], check: 'tcp' }]);
      const changed = check();
      expect(changed.stderr).toMatch(/rule file \S+mine\.yaml: parsed \(the file changed since\)/);
      expect(changed).toMatchObject({ code: 1, results: [{ port: closedPort, status: 'fail' }] });
      expect(check().stderr).toMatch(/rule file \S+mine\.yaml: as parsed before/);
    } finally {
      await open.close();
    }
  });

  it('loadRuleSetFile under vitest parses every time (the unbundled code has no build id)', () => {
    const file = path.join(dir, 'full.yaml');
    cpSync(FULL, file);
    expect(loadRuleSetFile(file)).toEqual(parseRuleSet(readFileSync(file, 'utf8'), file));
  });
});
