/**
 * The probe registry is the one place that says what a check name means. These tests hold the places that must
 * agree with it (the report schema, the watchdog's timeout, the plain-port counterparts) and show that an unknown
 * name is an error, never a silent default.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkNames, checkOf, probeFor, ruleSections } from '../../src/probes/index.js';
import { stoppedFailure } from '../../src/probes/phases.js';
import { loadBuiltinRuleSets } from '../../src/rules/builtin.js';
import { expandTargets } from '../../src/rules/expand.js';
import { overdueOutcome } from '../../src/run/run.js';
import type { CheckKind } from '../../src/types.js';
import { rule, ruleSet, target } from '../helpers/literals.js';

const reportSchema = JSON.parse(readFileSync(new URL('../../schemas/report.schema.json', import.meta.url), 'utf8')) as {
  $defs: { check: { enum: string[] } };
};

describe('the probe registry', () => {
  it('registers every check the built-in rule sets use, and their plain-port counterparts', () => {
    const used = new Set(loadBuiltinRuleSets().flatMap((set) => set.rules.flatMap((r) => [r.check, ...(r.plainPorts.length > 0 ? [checkOf(r.check).plain] : [])])));
    // What the rule sets use today (http only through url rules of users); a kind no rule set uses yet may be registered.
    expect([...used].sort()).toEqual(['apns', 'https', 'mqtt', 'tcp', 'tls', 'write']);
    expect(checkNames).toEqual(expect.arrayContaining([...used]));
  });

  it("agrees with the report schema's check enum, so saved reports of every kind validate", () => {
    // `cert`: a result of `pushcheck cert`, which checks a credential file and probes nothing (types.ts, Result.check).
    expect(reportSchema.$defs.check.enum).toEqual([...checkNames, 'cert']);
  });

  it.each([...checkNames])('%s: its plain-port counterpart is a registered check that speaks no TLS and is its own plain', (name) => {
    const plain = checkOf(checkOf(name).plain);
    expect(plain.speaks.tls).toBe(false);
    expect(plain.plain).toBe(plain.name);
    // The counterpart is the same conversation: an HTTP check stays HTTP without TLS.
    expect(plain.speaks.http).toBe(checkOf(name).speaks.http);
  });

  it.each([...checkNames])('%s: an overdue probe fails as the probe itself fails on a timeout in its last phase', (name) => {
    const { lastPhase } = checkOf(name);
    const overdue = overdueOutcome(target(rule({ check: name })), 1000).failure;
    const ownTimeout = stoppedFailure(lastPhase, 1000).failure;
    expect(overdue?.phase).toBe(ownTimeout.phase);
    expect(overdue?.code).toBe(ownTimeout.code);
  });

  it('gives https the phase http with http_timeout (it was connect with http_timeout)', () => {
    const overdue = overdueOutcome(target(rule({ check: 'https' })), 1000).failure;
    expect(overdue).toMatchObject({ code: 'http_timeout', phase: 'http' });
  });

  it('refuses an unknown check name everywhere instead of treating it as tcp', () => {
    const unknown = 'quic' as CheckKind;
    expect(() => probeFor(unknown)).toThrow(/no probe kind is registered for check "quic"/);
    expect(() => checkOf(unknown)).toThrow(/"quic"/);
    const set = ruleSet([rule({ check: unknown, ports: [443, 80], plainPorts: [80] })]);
    expect(() => expandTargets(set, { vars: {} })).toThrow(/"quic"/);
  });

  it('gives each rule file section to the kind that reads it', () => {
    expect(ruleSections.map(({ section, checks }) => [section.key, [...checks]])).toEqual([
      // apns and mqtt speak TLS too: a rule of theirs may ask for a TLS version or cipher.
      ['tls', ['tls', 'https', 'apns', 'mqtt']],
      ['http', ['http', 'https']],
      ['write', ['write']],
    ]);
  });

  it('loads no HTTP client with the registry (rule files and reports need the names only)', async () => {
    const { execFileSync } = await import('node:child_process');
    const registry = new URL('../../dist/probes/index.js', import.meta.url).href;
    const loaded = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(registry)}); const { createRequire } = await import('node:module'); console.log(Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('undici')).length)`],
      { encoding: 'utf8' },
    );
    expect(loaded.trim()).toBe('0');
  });
});
