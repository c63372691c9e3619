/**
 * A DNS server on loopback (UDP, dns-packet): A and AAAA records from a table, NXDOMAIN for names it does not know
 * (as a DNS filter answers), NODATA for a known name without records of the type asked. The demo points pushcheck
 * at it with --dns-server, so no name the demo checks ever goes to the system resolver; the tests use the same
 * server, where `mode` makes it drop every query (silent) or answer SERVFAIL or REFUSED, and `delayMs` makes it slow.
 *
 *   const dns = await startDnsServer({ records: { 'push.test': { A: ['127.0.0.1'], AAAA: ['::1'] } } });
 *   dns.mode = 'silent';
 *   await dns.close();
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
}

export type DnsMode = 'answer' | 'silent' | 'servfail' | 'refused';

export interface LoopbackDnsServer {
  host: string;
  port: number;
  /** `host:port` (`[host]:port` for IPv6), as --dns-server takes it. */
  address: string;
  /** Lower-case name → records; may be changed while the server runs. */
  records: Map<string, DnsRecords>;
  mode: DnsMode;
  /** Answers wait this long (a slow resolver); 0 answers at once. */
  delayMs: number;
  /** Every query received, in order. */
  queries: Array<{ name: string; type: string }>;
  /** Closes the socket; safe to call more than once. */
  close(): Promise<void>;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const TTL_S = 60;

/**
 * Listens on `host` (default 127.0.0.1), on `port` (default: a free one). Rejects with the bind error (EADDRNOTAVAIL where `host`
 * is not configured).
 */
export async function startDnsServer(
  options: { records?: Record<string, DnsRecords>; host?: string; port?: number; mode?: DnsMode; delayMs?: number } = {},
): Promise<LoopbackDnsServer> {
  const host = options.host ?? '127.0.0.1';
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const records = new Map(Object.entries(options.records ?? {}).map(([name, r]) => [name.toLowerCase(), r]));
  let closing: Promise<void> | undefined;
  const server: LoopbackDnsServer = {
    host,
    port: 0,
    address: '',
    records,
    mode: options.mode ?? 'answer',
    delayMs: options.delayMs ?? 0,
    queries: [],
    close: () => (closing ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };

  socket.on('message', (message, peer) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return; // junk is dropped, as a real server drops it
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    server.queries.push({ name, type: question.type });
    if (server.mode === 'silent') return;

    const known = records.get(name);
    let rcode: number = RCODE.NOERROR;
    if (server.mode === 'servfail') rcode = RCODE.SERVFAIL;
    else if (server.mode === 'refused') rcode = RCODE.REFUSED;
    else if (!known) rcode = RCODE.NXDOMAIN;
    const values = rcode === RCODE.NOERROR && (question.type === 'A' || question.type === 'AAAA') ? (known?.[question.type] ?? []) : [];
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: query.questions ?? [],
      answers: values.map((data) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: TTL_S, class: 'IN' as const, data })),
    });
    if (server.delayMs > 0) setTimeout(() => closing ?? socket.send(response, peer.port, peer.address), server.delayMs);
    else socket.send(response, peer.port, peer.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: options.port ?? 0 }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A late send error (the asker went away) must not crash the demo.
  socket.on('error', () => undefined);
  server.port = socket.address().port;
  server.address = net.isIPv6(host) ? `[${host}]:${server.port}` : `${host}:${server.port}`;
  return server;
}
