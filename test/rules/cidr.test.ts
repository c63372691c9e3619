import { describe, expect, it } from 'vitest';
import { addressInRanges, parseCidr } from '../../src/rules/cidr.js';

describe('addressInRanges', () => {
  it('IPv4: inside and just outside 17.0.0.0/8', () => {
    expect(addressInRanges('17.0.0.0', ['17.0.0.0/8'])).toBe(true);
    expect(addressInRanges('17.253.144.10', ['17.0.0.0/8'])).toBe(true);
    expect(addressInRanges('17.255.255.255', ['17.0.0.0/8'])).toBe(true);
    expect(addressInRanges('16.255.255.255', ['17.0.0.0/8'])).toBe(false);
    expect(addressInRanges('18.0.0.0', ['17.0.0.0/8'])).toBe(false);
  });

  it('IPv6: Apple’s APNs /48s', () => {
    const ranges = ['2620:149:a44::/48', '2403:300:a42::/48'];
    expect(addressInRanges('2620:149:a44::1', ranges)).toBe(true);
    expect(addressInRanges('2620:149:a44:ffff:ffff:ffff:ffff:ffff', ranges)).toBe(true);
    expect(addressInRanges('2620:149:a45::1', ranges)).toBe(false);
    expect(addressInRanges('2403:300:a42:1::5', ranges)).toBe(true);
  });

  it('matches an address against ranges of its own family only, but reads IPv4-mapped IPv6 as IPv4', () => {
    expect(addressInRanges('17.1.2.3', ['2620:149:a44::/48'])).toBe(false);
    expect(addressInRanges('2620:149:a44::1', ['17.0.0.0/8'])).toBe(false);
    expect(addressInRanges('::ffff:17.1.2.3', ['17.0.0.0/8'])).toBe(true);
    expect(addressInRanges('::ffff:18.1.2.3', ['17.0.0.0/8'])).toBe(false);
  });

  it('any of several ranges; none at all or no address means false', () => {
    expect(addressInRanges('10.1.2.3', ['17.0.0.0/8', '10.0.0.0/8'])).toBe(true);
    expect(addressInRanges('10.1.2.3', [])).toBe(false);
    expect(addressInRanges('not-an-ip', ['17.0.0.0/8'])).toBe(false);
  });

  it('a /32 and a /0', () => {
    expect(addressInRanges('192.0.2.7', ['192.0.2.7/32'])).toBe(true);
    expect(addressInRanges('192.0.2.8', ['192.0.2.7/32'])).toBe(false);
    expect(addressInRanges('203.0.113.1', ['0.0.0.0/0'])).toBe(true);
  });
});

describe('parseCidr', () => {
  it('reads v4 and v6 ranges and refuses the rest', () => {
    expect(parseCidr('17.0.0.0/8')).toEqual({ address: '17.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('2620:149:a44::/48')).toEqual({ address: '2620:149:a44::', prefix: 48, family: 'ipv6' });
    for (const bad of ['17.0.0.0/33', '2620::/129', '17.0.0.0', '17.0.0/8', 'apple.com/8', '17.0.0.0/-1', '']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });
});
