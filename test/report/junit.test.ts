/**
 * JUnit XML read by its consumers: xmllint validates every document against the Jenkins xUnit schema, and the
 * assertions read the document back with XPath, as a CI tool would.
 */
import { describe, expect, it } from 'vitest';
import { junit } from '../../src/report/junit.js';
import type { Report } from '../../src/types.js';
import { xmllintSchema, xpath } from './consumers.js';
import { NASTY, nastyReport, report, result, richReport, unprobed } from './fixture.js';

function render(r: Report): string {
  return junit.render(r, { color: false });
}

function expectValid(xml: string): void {
  const lint = xmllintSchema(xml);
  expect(lint.stderr).toMatch(/validates/);
  expect(lint.status).toBe(0);
}

describe('junit format', () => {
  const rich = richReport();
  const xml = render(rich);

  it('validates against junit-10.xsd', () => {
    expectValid(xml);
  });

  it("puts the findings that explain a suite's targets in the suite's <system-out>", () => {
    const out = xpath(xml, "string(/testsuites/testsuite[@name='moki-ios']/system-out)");
    expect(out).toMatch(/^Findings: 1 critical, 1 info\nCRITICAL ports_blocked: The firewall lets TCP 443 through/);
    expect(out).toContain(`  ask for: ${rich.findings[0]!.action}`);
    expect(out).toContain('  explains: 1 target: moki-ios/5 courier.sandbox.push.apple.com:5223');
    expect(out).toContain('info legacy_only: Retired ports fail too');
    // ibi-aws has no finding: no <system-out> of its own
    expect(xpath(xml, "count(/testsuites/testsuite[@name='ibi-aws']/system-out)")).toBe('0');
  });

  it('has one testsuite per rule set and one testcase per target', () => {
    expect(xpath(xml, 'count(/testsuites/testsuite)')).toBe('2');
    expect(xpath(xml, 'count(//testcase)')).toBe(String(rich.results.length));
    expect(xpath(xml, 'string(/testsuites/testsuite[1]/@name)')).toBe('moki-ios');
    expect(xpath(xml, 'string(/testsuites/testsuite[2]/@name)')).toBe('ibi-aws');
    expect(xpath(xml, "count(/testsuites/testsuite[@name='moki-ios']/testcase)")).toBe('4');
  });

  it('names a test case for a person and classes it by rule set', () => {
    const failing = "//testcase[@name='rule 5 · courier.sandbox.push.apple.com:5223']";
    expect(xpath(xml, `count(${failing})`)).toBe('1');
    expect(xpath(xml, `string(${failing}/@classname)`)).toBe('pushcheck.moki-ios');
    expect(xpath(xml, "string(//testcase[@name='rule message-get · intranet.example:443']/@classname)")).toBe('pushcheck.ibi-aws');
  });

  it('gives times in seconds', () => {
    expect(Number(xpath(xml, "string(//testcase[@name='rule 5 · courier.sandbox.push.apple.com:5223']/@time)"))).toBeCloseTo(5.0125, 3);
    expect(Number(xpath(xml, 'string(/testsuites/@time)'))).toBeCloseTo(5.1, 3);
  });

  it('makes a failed critical target a <failure> with the code as type, the explanation as message, and impact, hint and timings in the body', () => {
    const failure = "//testcase[@name='rule 5 · courier.sandbox.push.apple.com:5223']/failure";
    expect(xpath(xml, `count(${failure})`)).toBe('1');
    expect(xpath(xml, `string(${failure}/@type)`)).toBe('tcp_timeout');
    expect(xpath(xml, `string(${failure}/@message)`)).toBe(
      'no answer to the connection attempt: a firewall is probably dropping the packets (after 5000 ms)',
    );
    const body = xpath(xml, `string(${failure})`);
    expect(body).toContain('Can’t send device information to MokiManage or receive updates or actions');
    expect(body).toContain('hint: allow outbound TCP to this host and port');
    expect(body).toMatch(/timings: .*connect 5000 ms.*total 5012\.5 ms/);
  });

  it('shows warnings in <system-out>, not as failures', () => {
    const warning = "//testcase[@name='rule 1 · mokimanage.com:443']";
    expect(xpath(xml, `count(${warning}/failure)`)).toBe('0');
    const out = xpath(xml, `string(${warning}/system-out)`);
    expect(out).toMatch(/^WARN tls_untrusted/);
    expect(out).toContain('Corporate Inspection CA');
    expect(out).toContain('if it fails: Can’t send device information');
    // the retired port warns too
    expect(xpath(xml, "count(//testcase[@name='rule 5 · courier.sandbox.push.apple.com:2195']/failure)")).toBe('0');
  });

  it('marks skipped targets <skipped> with the reason', () => {
    const skipped = "//testcase[@name='rule message-head · messages:443']/skipped";
    expect(xpath(xml, `count(${skipped})`)).toBe('1');
    expect(xpath(xml, `string(${skipped}/@message)`)).toBe('no --var messageUrl=https://… given');
  });

  it('counts tests, failures, errors and skipped on every suite, and on <testsuites> as far as the XSD allows', () => {
    for (const set of ['moki-ios', 'ibi-aws']) {
      const mine = rich.results.filter((r) => r.ruleset === set);
      const suite = `/testsuites/testsuite[@name='${set}']`;
      expect(xpath(xml, `string(${suite}/@tests)`)).toBe(String(mine.length));
      expect(xpath(xml, `string(${suite}/@failures)`)).toBe(String(mine.filter((r) => r.status === 'fail').length));
      expect(xpath(xml, `string(${suite}/@skipped)`)).toBe(String(mine.filter((r) => r.status === 'skip').length));
      expect(xpath(xml, `string(${suite}/@errors)`)).toBe('0');
      // and the counts agree with the elements a CI tool would count
      expect(xpath(xml, `count(${suite}/testcase)`)).toBe(String(mine.length));
      expect(xpath(xml, `count(${suite}/testcase/failure)`)).toBe(xpath(xml, `string(${suite}/@failures)`));
      expect(xpath(xml, `count(${suite}/testcase/skipped)`)).toBe(xpath(xml, `string(${suite}/@skipped)`));
    }
    expect(xpath(xml, 'string(/testsuites/@tests)')).toBe(String(rich.summary.total));
    expect(xpath(xml, 'string(/testsuites/@failures)')).toBe(String(rich.summary.failed));
    expect(xpath(xml, 'string(/testsuites/@errors)')).toBe('0');
    expect(xpath(xml, 'sum(/testsuites/testsuite/@skipped)')).toBe(String(rich.summary.skipped));
  });

  it('carries the run facts as suite properties, for a support engineer', () => {
    const prop = (name: string) => xpath(xml, `string(/testsuites/testsuite[1]/properties/property[@name='${name}']/@value)`);
    expect(prop('pushcheck.version')).toBe('0.1.0');
    expect(prop('node')).toBe('v20.18.0');
    expect(prop('options.timeoutMs')).toBe('5000');
    expect(prop('options.resolve')).toBe('*.push.apple.com=17.57.146.20');
    expect(prop('options.caFiles')).toBe('corp-ca.pem');
  });

  it('with --strict, makes the warnings that fail the run <failure>s, but not retired ports', () => {
    const strict = richReport({ options: { ...rich.options, strict: true } });
    const strictXml = render(strict);
    expectValid(strictXml);
    expect(xpath(strictXml, "string(//testcase[@name='rule 1 · mokimanage.com:443']/failure/@type)")).toBe('tls_untrusted');
    expect(xpath(strictXml, "count(//testcase[@name='rule 5 · courier.sandbox.push.apple.com:2195']/failure)")).toBe('0');
    expect(xpath(strictXml, 'string(/testsuites/@failures)')).toBe(String(rich.summary.failed + 1));
  });

  it('is checked by an xmllint that does refuse what the XSD forbids', () => {
    expect(xmllintSchema(xml.replace('<testsuites ', '<testsuites skipped="1" ')).status).not.toBe(0);
    expect(xmllintSchema(xml.replace('<failure ', '<failure\u0001 ')).status).not.toBe(0);
  });

  it('is valid with no targets at all', () => {
    const empty = render(report([], { rulesets: [{ id: 'empty', title: 'Empty', notes: [], file: 'e.yaml' }] }));
    expectValid(empty);
    expect(xpath(empty, 'string(/testsuites/testsuite/@tests)')).toBe('0');
  });

  it('is valid XML whatever the names, messages and bodies hold', () => {
    const nasty = nastyReport();
    const text = render(nasty);
    expectValid(text);
    // What XML cannot carry (NUL, BEL, ESC, a lone surrogate) arrives as U+FFFD; everything else arrives as sent.
    const carried = NASTY.replace(/[\u0000\u0007\u001b\ud800]/g, '\uFFFD');
    const first = '/testsuites/testsuite[1]/testcase[1]';
    expect(xpath(text, `string(${first}/@classname)`)).toBe(`pushcheck.set ${carried}`);
    expect(xpath(text, `string(${first}/@name)`)).toBe(`rule r ${carried} · h${carried}:443`);
    const failure = `${first}/failure`;
    expect(xpath(text, `string(${failure}/@message)`)).toBe(carried);
    expect(xpath(text, `string(${failure})`)).toContain(`if it fails: ${carried}`);
    expect(xpath(text, 'count(//testcase)')).toBe('4');
  });

  it('an interrupted run: what finished, the rest skipped as "interrupted"', () => {
    const interrupted = report(
      [result({ status: 'pass' }), unprobed({ port: 5223, note: 'interrupted' }), unprobed({ port: 2197, note: 'interrupted' })],
      { interrupted: true },
    );
    const text = render(interrupted);
    expectValid(text);
    expect(xpath(text, "count(//testcase/skipped[@message='interrupted'])")).toBe('2');
    expect(xpath(text, "string(//property[@name='interrupted']/@value)")).toBe('true');
    expect(xpath(text, "string(//property[@name='exitCode']/@value)")).toBe('130');
  });
});
