/** Proxies from the environment with curl's rules: which variable wins, what NO_PROXY exempts, what a bad value says. */
import { describe, expect, it } from 'vitest';
import { thrownBy } from '../helpers/thrown.js';
import { UsageError } from '../../src/errors.js';
import { proxyFromEnvironment } from '../../src/cli/proxy-option.js';
import { bypassesProxy, parseNoProxy } from '../../src/probes/proxy-env.js';

describe('proxyFromEnvironment', () => {
  it('takes https_proxy, then HTTPS_PROXY, then all_proxy, then ALL_PROXY; empty counts as unset', () => {
    const env = {
      HTTPS_PROXY: 'http://upper:3128',
      https_proxy: 'http://lower:3128',
      ALL_PROXY: 'socks5://all-upper:1080',
      all_proxy: 'socks5://all-lower:1080',
    };
    expect(proxyFromEnvironment(env)).toMatchObject({ source: 'https_proxy', proxy: { host: 'lower' } });
    expect(proxyFromEnvironment({ ...env, https_proxy: '' })).toMatchObject({ source: 'HTTPS_PROXY', proxy: { host: 'upper' } });
    expect(proxyFromEnvironment({ ALL_PROXY: env.ALL_PROXY, all_proxy: env.all_proxy })).toMatchObject({
      source: 'all_proxy',
      proxy: { protocol: 'socks5', host: 'all-lower', port: 1080 },
    });
    expect(proxyFromEnvironment({ ALL_PROXY: env.ALL_PROXY })?.source).toBe('ALL_PROXY');
    expect(proxyFromEnvironment({ http_proxy: 'http://plain:3128', NO_PROXY: '*' })).toBeUndefined();
  });

  it('reads a value without a scheme as an HTTP proxy, as curl does', () => {
    expect(proxyFromEnvironment({ HTTPS_PROXY: 'proxy.corp:8080' })?.proxy).toEqual({ protocol: 'http', host: 'proxy.corp', port: 8080 });
  });

  it('keeps NO_PROXY as written for the report, no_proxy before NO_PROXY', () => {
    const found = proxyFromEnvironment({ HTTPS_PROXY: 'http://p:3128', no_proxy: ' .corp , 10.0.0.0/8 ', NO_PROXY: 'other' });
    expect(found?.noProxyText).toEqual(['.corp', '10.0.0.0/8']);
  });

  it('a bad value is a one-line usage error naming the variable, with the password masked', () => {
    const error = thrownBy(() => proxyFromEnvironment({ HTTPS_PROXY: 'ftp://admin:s3cret@proxy:21' }), UsageError);
    expect(error.message).toBe('HTTPS_PROXY "ftp://***@proxy:21": unknown scheme "ftp"; expected http:// (HTTP CONNECT) or socks5://');
  });
});

describe('NO_PROXY, with curl rules', () => {
  const exempt = (list: string, host: string): boolean => bypassesProxy(host, parseNoProxy(list));

  it('a name exempts itself and every name below it, with or without a leading dot', () => {
    for (const list of ['push.apple.com', '.push.apple.com']) {
      expect(exempt(list, 'push.apple.com'), list).toBe(true);
      expect(exempt(list, '1-courier.push.apple.com'), list).toBe(true);
      expect(exempt(list, 'PUSH.apple.com.'), list).toBe(true);
      expect(exempt(list, 'notpush.apple.com'), list).toBe(false);
      expect(exempt(list, 'apple.com'), list).toBe(false);
    }
  });

  it('* alone exempts everything; entries are comma-separated with spaces ignored', () => {
    expect(exempt('*', 'anything.example')).toBe(true);
    expect(exempt('a.example, b.example ,c.example', 'b.example')).toBe(true);
    expect(exempt('a.example,,', 'b.example')).toBe(false);
    expect(exempt('', 'b.example')).toBe(false);
  });

  it('IP addresses and CIDR ranges match hosts given as addresses, of either family', () => {
    expect(exempt('10.1.2.3', '10.1.2.3')).toBe(true);
    expect(exempt('10.1.2.3', '10.1.2.4')).toBe(false);
    expect(exempt('10.0.0.0/8', '10.200.0.1')).toBe(true);
    expect(exempt('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(exempt('[::1]', '::1')).toBe(true);
    expect(exempt('fd00::/8', '[fd12::1]')).toBe(true);
    expect(exempt('fd00::/8', 'fe80::1')).toBe(false);
    // No lookup is made: an address entry does not match a name, whatever it resolves to.
    expect(exempt('127.0.0.0/8', 'localhost')).toBe(false);
  });
});
