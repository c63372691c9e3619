/** CIDR ranges: parsing them in rule files and asking whether an address lies in one. */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `17.0.0.0/8` or `2620:149:a44::/48`; undefined when the text is not a CIDR range. */
export function parseCidr(text: string): Cidr | undefined {
  const match = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) return undefined;
  const address = match[1] as string;
  const prefix = Number(match[2]);
  const version = isIP(address);
  if (version === 0) return undefined;
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Whether `address` (IPv4 or IPv6) lies in one of `ranges`. An IPv4-mapped IPv6 address
 * (`::ffff:17.1.2.3`) counts as its IPv4 address. Not an IP address: false.
 */
export function addressInRanges(address: string, ranges: string[]): boolean {
  const version = isIP(address);
  if (version === 0) return false;
  const list = new BlockList();
  for (const range of ranges) {
    const cidr = parseCidr(range);
    if (!cidr) throw new Error(`not a CIDR range: ${range}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  if (version === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped && list.check(mapped[1] as string, 'ipv4')) return true;
    return list.check(address, 'ipv6');
  }
  return list.check(address, 'ipv4');
}

/** Whether the range `inner` lies wholly inside one of `ranges` (of its own family). */
export function cidrWithin(inner: string, ranges: string[]): boolean {
  const range = parseCidr(inner);
  if (!range) return false;
  return ranges.some((outer) => {
    const parsed = parseCidr(outer);
    return parsed?.family === range.family && parsed.prefix <= range.prefix && addressInRanges(range.address, [outer]);
  });
}

/** The family of an IP address (an IPv4-mapped IPv6 address counts as IPv4); undefined for anything else. */
export function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address);
  if (version === 4 || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) return 'ipv4';
  return version === 6 ? 'ipv6' : undefined;
}

/** The ranges of `ranges` that judge `address`: those of its own family. */
export function rangesForFamily(address: string, ranges: string[]): string[] {
  const family = familyOf(address);
  return ranges.filter((range) => parseCidr(range)?.family === family);
}
