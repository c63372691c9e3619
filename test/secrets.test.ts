/** Credentials never leave in a report: a user:password in any URL becomes ***. */
import { describe, expect, it } from 'vitest';
import { maskPassword, maskSentCredentials, redactSecrets, redactText } from '../src/secrets.js';
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

  it('masks a password with an unescaped @ up to the last @ of the authority', () => {
    expect(redactText('ftp://user:top@secret@files.example/m@1')).toBe('ftp://***@files.example/m@1');
  });

  it('masks credentials in every form they were sent: plain, %-encoded, user:password, base64 with and without padding', () => {
    const user = 'mdm';
    const password = 'p@ss word';
    const base64 = Buffer.from(`${user}:${password}`).toString('base64');
    const echoed = `407 ${password} ${encodeURIComponent(password)} ${user}:${password} Basic ${base64} ${base64.replace(/=+$/, '')}`;
    const masked = maskSentCredentials(echoed, user, password);
    expect(masked).toBe('407 *** *** *** Basic *** ***');
    expect(maskSentCredentials('407 mdm', user, undefined)).toBe('407 mdm');
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
