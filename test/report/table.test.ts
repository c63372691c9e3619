import { describe, expect, it } from 'vitest';
import { table, wrap } from '../../src/report/table.js';
import { report, result, richFindings } from './fixture.js';

const timeout = result({
  status: 'fail',
  timings: { totalMs: 5000 },
  error: { code: 'tcp_timeout', phase: 'connect', message: 'no answer to the connection attempt', hint: 'allow outbound TCP to this host and port' },
});

describe('table format', () => {
  it('shows a failure with its code, hint and the vendor impact, and a FAIL verdict', () => {
    const text = table.render(report([result({ port: 443 }), timeout]), { color: false });
    expect(text).toContain('moki-ios — moki-ios title');
    expect(text).toContain('tcp_timeout: no answer to the connection attempt [17.57.146.20]');
    expect(text).toContain('hint: allow outbound TCP to this host and port');
    expect(text).toContain('if it fails: Can’t send device information to MokiManage or receive updates');
    expect(text).toMatch(/FAIL: 1 critical target failed — 1 passed, 1 failed, 0 warned, 0 skipped of 2 targets in 5\.1 s\n$/);
    expect(text).not.toMatch(/\u001b\[/);
  });

  it('explains warnings and skips, and passes with a caveat', () => {
    const legacy = result({ port: 2195, status: 'warn', error: timeout.error, note: 'retired port (since 2021-03-31): binary API', legacy: { retired: '2021-03-31', note: 'binary API' } });
    const skipped = result({ rule: 'message-get', status: 'skip', note: 'set --var messageUrl=https://… to check the message file' });
    const text = table.render(report([legacy, skipped]), { color: false });
    expect(text).toContain('note: retired port (since 2021-03-31)');
    expect(text).toContain('skipped: set --var messageUrl=');
    expect(text).toContain('PASS: nothing critical failed (see warnings)');
  });

  it('wraps to a narrow terminal, and treats a width of 0 or an absurd one as unknown', () => {
    const long = result({ ...timeout, error: { ...timeout.error!, message: 'no answer to the connection attempt: '.repeat(6) } });
    const unknown = table.render(report([long]), { color: false });
    for (const columns of [0, -5, Number.NaN, 2.5, 1e9]) expect(table.render(report([long]), { color: false, columns })).toBe(unknown);
    // The table's lines (the verdict line is one sentence, as long as it is).
    const widest = (text: string) => Math.max(...text.split('\n').filter((line) => /^[┌│├└]/.test(line)).map((line) => line.length));
    expect(widest(unknown)).toBeGreaterThan(80);
    const narrow = table.render(report([long]), { color: false, columns: 80 });
    expect(widest(narrow)).toBeLessThanOrEqual(80);
    expect(narrow).toContain('tcp_timeout: no answer');
    // Wider than the default layout changes nothing: lines stay readable.
    expect(table.render(report([long]), { color: false, columns: 300 })).toBe(unknown);
  });

  it('colours only when asked', () => {
    expect(table.render(report([timeout]), { color: true })).toMatch(/\u001b\[31m/);
  });

  it('says when a run was interrupted', () => {
    const text = table.render(report([result({ status: 'skip', note: 'interrupted' })], { interrupted: true, exitCode: 130 }), { color: false });
    expect(text).toMatch(/INTERRUPTED: report holds what finished/);
  });

  it('reports CIDR verdicts and distinct addresses per rule', () => {
    const text = table.render(
      report([result({})], {
        rules: [
          {
            ruleset: 'moki-ios',
            rule: 'courier',
            documentedHost: '#-courier.push.apple.com',
            hosts: ['0-courier.push.apple.com', '50-courier.push.apple.com'],
            addresses: ['17.57.146.20', '17.57.146.21'],
            cidr: { ranges: ['17.0.0.0/8'], outside: [], pinned: [], verdict: 'inside', message: 'all 2 addresses found lie in 17.0.0.0/8: allowing 17.0.0.0/8 covers this rule' },
          },
        ],
      }),
      { color: false },
    );
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain('2 hosts probed, 2 distinct addresses: 17.57.146.20, 17.57.146.21');
    expect(flat).toContain('allowing 17.0.0.0/8 covers this rule');
  });
});

describe('table format: findings and repeats', () => {
  it('puts the findings in a block just above the verdict, one paragraph each, and none when there are none', () => {
    const text = table.render(report([result({ port: 443 }), timeout], { findings: richFindings() }), { color: false });
    const block = text.slice(text.indexOf('Findings: 1 critical, 1 info'));
    expect(text.indexOf('Findings:')).toBeGreaterThan(text.indexOf('tcp_timeout: no answer'));
    const paragraphs = block.trimEnd().split('\n\n');
    expect(paragraphs).toHaveLength(4); // heading, two findings, verdict
    expect(paragraphs[1]!.replace(/\s+/g, ' ').trim()).toBe(
      "CRITICAL ports_blocked: The firewall lets TCP 443 through but blocks TCP 5223 to the same vendors’ hosts: it allows " +
        'only web ports. ask for: Allow outbound TCP 5223 to courier.sandbox.push.apple.com. also: Nothing falls back for ' +
        '5223 (moki-ios/5). explains: 1 target: moki-ios/5 courier.sandbox.push.apple.com:5223',
    );
    expect(paragraphs[2]).toMatch(/^ {2}info legacy_only: Retired ports fail too/);
    expect(paragraphs[3]).toMatch(/^FAIL: 1 critical target failed/);
    expect(text.split('\n').every((line) => line.length <= 100)).toBe(true);
    expect(table.render(report([result()]), { color: false })).not.toContain('Findings');
  });

  it('prints a hint and an impact text that repeat within a rule set once, and again in the next rule set', () => {
    const targets = [5223, 5228, 5229].map((port) => ({ ...timeout, port }));
    const other = targets.map((r) => ({ ...r, ruleset: 'google-fcm' }));
    const text = table.render(report([...targets, ...other]), { color: false });
    const count = (needle: string) => text.split(needle).length - 1;
    expect(count('hint: allow outbound TCP to this host and port')).toBe(2);
    expect(count('if it fails: Can’t send device information')).toBe(2);
    // every failure still has its own code and message
    expect(count('tcp_timeout: no answer to the connection attempt')).toBe(6);
  });
});

describe('wrap', () => {
  it('wraps at the width without breaking words, keeping every word', () => {
    const text = 'one two three four five six seven eight nine ten';
    const lines = wrap(text, 12);
    expect(lines.every((line) => line.length <= 12)).toBe(true);
    expect(lines.join(' ')).toBe(text);
    expect(wrap('averyveryverylongword', 5)).toEqual(['averyveryverylongword']);
  });
});
