/**
 * NO_PROXY as curl reads it: which hosts go direct although a proxy from the environment is set. The CLI reads the
 * variables (cli/proxy-option.ts); the scheduler asks {@link bypassesProxy} per target.
 */
import { BlockList, isIP, isIPv6 } from 'node:net';

/** One NO_PROXY entry: every host (`*`), a name and its subdomains, an IP address, or a CIDR range. */
export type NoProxyEntry =
  | { kind: 'all' }
  | { kind: 'domain'; name: string }
  | { kind: 'address'; address: string }
  | { kind: 'range'; range: string; list: BlockList };

/** `10.0.0.0/8` or `fd00::/8` as a BlockList; undefined when the text is not a CIDR range. */
function cidrList(text: string): BlockList | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const version = match ? isIP(match[1] as string) : 0;
  const prefix = Number(match?.[2]);
  if (!match || version === 0 || prefix > (version === 4 ? 32 : 128)) return undefined;
  const list = new BlockList();
  list.addSubnet(match[1] as string, prefix, version === 4 ? 'ipv4' : 'ipv6');
  return list;
}

function unbracket(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/**
 * curl's NO_PROXY: comma-separated (spaces around entries ignored); `*` alone exempts every host; a name exempts
 * itself and every name below it, with or without a leading dot; an IP address exempts that address; a CIDR
 * range, the addresses in it. Addresses and ranges match hosts given as IP addresses only (no lookup is made).
 */
export function parseNoProxy(text: string): NoProxyEntry[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry): NoProxyEntry => {
      if (entry === '*') return { kind: 'all' };
      const bare = unbracket(entry);
      const range = cidrList(bare);
      if (range) return { kind: 'range', range: bare, list: range };
      if (isIP(bare) !== 0) return { kind: 'address', address: bare.toLowerCase() };
      return { kind: 'domain', name: entry.replace(/^\*?\./, '').replace(/\.$/, '').toLowerCase() };
    });
}

/** Whether NO_PROXY exempts `host` (a name or an IP address) from the proxy. */
export function bypassesProxy(host: string, entries: readonly NoProxyEntry[]): boolean {
  const name = unbracket(host).replace(/\.$/, '').toLowerCase();
  const isAddress = isIP(name) !== 0;
  return entries.some((entry) => {
    switch (entry.kind) {
      case 'all':
        return true;
      case 'domain':
        return !isAddress && (name === entry.name || name.endsWith(`.${entry.name}`));
      case 'address':
        return isAddress && name === entry.address;
      case 'range':
        return isAddress && entry.list.check(name, isIPv6(name) ? 'ipv6' : 'ipv4');
    }
  });
}
