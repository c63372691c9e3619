import { isIPv4, isIPv6 } from 'node:net';

/**
 * 4 or 6 for an IP address, 0 for anything else, like `net.isIP`. Node's isIP tries its IPv6 pattern on every
 * host name, and the first use of that pattern compiles it: 10–25 ms of a run's start on this machine. A name
 * without a colon cannot be an IPv6 address, so it never reaches the pattern.
 */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (text.includes(':')) return isIPv6(text) ? 6 : 0;
  return isIPv4(text) ? 4 : 0;
}
