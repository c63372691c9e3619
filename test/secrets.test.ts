/** Credentials never leave in a report: a user:password in any URL becomes ***. */
import { describe, expect, it } from 'vitest';
import { maskPassword, redactSecrets, redactText } from '../src/secrets.js';
import { richReport } from './report/fixture.js';

describe('redaction', () => {
  it('replaces the credentials of a URL, and only them', () => {
    expect(redactText('http://alice:s3cret@proxy.corp:3128')).toBe('http://***@proxy.corp:3128');
    expect(redactText('via socks5://bob@10.0.0.1:1080 and https://carol:pw@x.test/a?b=c')).toBe(
      'via socks5://***@10.0.0.1:1080 and https://***@x.test/a?b=c',
    );
    expect(redactText('https://example.test/path@v1 mail me@example.test')).toBe('https://example.test/path@v1 mail me@example.test');
    expect(redactText(redactText('http://a:b@c'))).toBe('http://***@c');
  });

  it('leaves a password already masked (the recorded --proxy) as it is, user name and all', () => {
    expect(maskPassword('alice', 's3cret')).toBe('alice:***@');
    expect(maskPassword('bob', undefined)).toBe('bob@');
    expect(maskPassword(undefined, undefined)).toBe('');
    expect(redactText('proxy http://alice:***@proxy.corp:3128')).toBe('proxy http://alice:***@proxy.corp:3128');
    expect(redactText('socks5://bob@10.0.0.1:1080')).toBe('socks5://***@10.0.0.1:1080');
    expect(redactText('http://alice:***x@proxy.corp:3128')).toBe('http://***@proxy.corp:3128');
  });

  it('reaches every string of a report, leaving the rest as it was', () => {
    const rich = richReport();
    const leaky = { ...rich, options: { ...rich.options, dnsServer: 'https://u:p@doh.test/dns-query' } };
    leaky.results = leaky.results.map((r, i) => (i === 1 ? { ...r, error: { ...r.error!, message: 'proxy http://u:p@proxy:3128 refused' } } : r));
    const safe = redactSecrets(leaky);
    expect(JSON.stringify(safe)).not.toContain('u:p@');
    expect(safe.options.dnsServer).toBe('https://***@doh.test/dns-query');
    expect(safe.results[1]!.error!.message).toBe('proxy http://***@proxy:3128 refused');
    expect(redactSecrets(rich)).toEqual(rich);
  });
});
