/**
 * A url rule's check comes from its url's scheme, as the probe kinds declare their schemes (Check.schemes): the
 * loader and the expander ask the registry, not a list of their own.
 */
import { describe, expect, it } from 'vitest';
import { checkNames, checkOf } from '../../src/probes/index.js';
import { expandTargets } from '../../src/rules/expand.js';
import { parseRuleSet } from '../../src/rules/load.js';
import { defaultPortOf, parseUrl, schemeChecks, URL_FORM } from '../../src/rules/urls.js';

const urlRule = (url: string, extra = ''): string =>
  `id: s\ntitle: S\nrules:\n  - id: r\n    url: "${url}"\n    purpose: p\n    impact: i\n    severity: critical\n${extra}`;

/** Every scheme a registered check declares, with its check and default port. */
const declared = checkNames.flatMap((name) => Object.entries(checkOf(name).schemes ?? {}).map(([scheme, port]) => ({ scheme, port, check: name })));

describe('url schemes from the probe registry', () => {
  it('finds the schemes the http kind declares (and any other kind)', () => {
    expect(declared).toEqual(
      expect.arrayContaining([
        { scheme: 'http', port: 80, check: 'http' },
        { scheme: 'https', port: 443, check: 'https' },
      ]),
    );
    expect(schemeChecks).toEqual([...new Set(declared.map(({ check }) => check))]);
    expect(URL_FORM).toMatch(/^an http:\/\/(, | or ).*https:\/\/.* URL$/);
  });

  it.each(declared)('$scheme:// gives a url rule check $check, on port $port unless the url names one', ({ scheme, port, check }) => {
    const plain = parseRuleSet(urlRule(`${scheme}://svc.example.test/status`), 'u.yaml').rules[0];
    expect(plain).toMatchObject({ check, host: 'svc.example.test', ports: [port], url: `${scheme}://svc.example.test/status` });
    expect(parseRuleSet(urlRule(`${scheme}://svc.example.test:8443/`), 'u.yaml').rules[0]?.ports).toEqual([8443]);
    expect(defaultPortOf(check)).toBe(port);
    expect(parseUrl(`${scheme.toUpperCase()}://[::1]/x`)).toMatchObject({ host: '::1', port, check });
  });

  it('keeps the check of a template whose variable is not given, on the default port of its scheme', () => {
    const set = parseRuleSet(urlRule('http://${host}/m.ibi'), 'u.yaml');
    const [skipped] = expandTargets(set, { vars: {} });
    expect(skipped).toMatchObject({ check: 'http', port: 80 });
    expect(skipped?.skipReason).toMatch(/--var host/);
  });

  it('refuses a scheme no kind declares, naming the ones that are', () => {
    expect(() => parseRuleSet(urlRule('gopher://svc.example.test/'), 'u.yaml')).toThrow(
      /^u\.yaml:5: rules\[0\]\.url: "gopher:\/\/svc\.example\.test\/" is not an http:\/\/(, | or ).*https:\/\/.* URL with a host$/,
    );
    expect(parseUrl('gopher://svc.example.test/')).toBeUndefined();
    expect(() => defaultPortOf('tcp')).toThrow(/takes no url scheme/);
  });

  it('takes a url that is all placeholders as https unless the rule names its check', () => {
    const set = (extra: string): string => `id: s\ntitle: S\nrules:\n  - id: r\n    url: "\${u}"\n    purpose: p\n    impact: i\n    severity: critical\n${extra}`;
    expect(parseRuleSet(set(''), 'u.yaml').rules[0]?.check).toBe('https');
    expect(parseRuleSet(set('    check: http\n'), 'u.yaml').rules[0]?.check).toBe('http');
  });
});
