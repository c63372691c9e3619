/** --proxy as typed: parsed for the probes, recorded masked, every mistake one line without the password. */
import { describe, expect, it } from 'vitest';
import { parseProxy, proxyUrl } from '../../src/cli/proxy-option.js';
import { proxyName } from '../../src/probes/proxy.js';
import { thrownBy } from '../helpers/thrown.js';

describe('parseProxy', () => {
  it('takes http and socks5 (socks5h) URLs with optional credentials, %-decoded, and records them masked', () => {
    expect(parseProxy('http://proxy.corp:3128')).toEqual({ protocol: 'http', host: 'proxy.corp', port: 3128 });
    expect(parseProxy('socks5h://10.0.0.1:1080/')).toEqual({ protocol: 'socks5', host: '10.0.0.1', port: 1080 });
    expect(parseProxy('HTTP://[::1]:8080')).toEqual({ protocol: 'http', host: '::1', port: 8080 });
    const withAuth = parseProxy('http://alice:p%40ss@w0rd@proxy.corp:3128');
    expect(withAuth).toEqual({ protocol: 'http', host: 'proxy.corp', port: 3128, user: 'alice', password: 'p@ss@w0rd' });
    expect(proxyUrl(withAuth)).toBe('http://alice:***@proxy.corp:3128');
    expect(proxyUrl(parseProxy('socks5://bob@[::1]:1080'))).toBe('socks5://bob@[::1]:1080');
    expect(proxyName(withAuth)).toBe('HTTP proxy proxy.corp:3128');
  });

  it('refuses anything else in one line that never shows the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['ftp://alice:Pr0xy-s3cret@proxy:21', /unknown scheme "ftp"/],
      ['https://proxy.corp:3128', /unknown scheme "https"/],
      ['http://alice:Pr0xy-s3cret@proxy.corp', /the port is missing, e\.g\. http:\/\/proxy\.corp:3128/],
      ['socks5://proxy.corp:0', /port must be a number from 1 to 65535/],
      ['socks5://proxy.corp:99999', /port must be a number from 1 to 65535/],
      ['alice:Pr0xy-s3cret@proxy.corp:3128', /expected http:\/\/\[user:pass@\]host:port/],
      ['garbage', /expected http:\/\/\[user:pass@\]host:port/],
      ['http://pro xy:3128', /"pro xy" is not a host name or IP address/],
      ['http://:Pr0xy-s3cret@proxy:3128', /user name is missing/],
      ['http://alice:%E0%A4%A@proxy:3128', /bad %-escape/],
      [`socks5://alice:${'x'.repeat(256)}@proxy:1080`, /at most 255 bytes/],
    ];
    for (const [text, message] of cases) {
      const { name, message: got } = thrownBy(() => parseProxy(text), Error, text);
      expect(name, text).toBe('UsageError');
      expect(got, text).toMatch(message);
      expect(got, text).toMatch(/^--proxy "/);
      expect(got, text).not.toContain('\n');
      expect(got, text).not.toMatch(/Pr0xy|s3cret|xxxx/);
    }
  });
});
