/**
 * An in-process UDP DNS server for tests (dns-packet). It answers A and AAAA queries from a table, says NXDOMAIN
 * for names it does not know and NODATA for a known name without records of the type asked; `mode` makes it
 * drop every query (silent), or answer SERVFAIL or REFUSED. Point a resolver at it with `--dns-server
 * ${server.address}` (or `{ host, port }`).
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

export interface TestDnsServer {
  host: string;
  port: number;
  /** `host:port` (`[host]:port` for IPv6), as --dns-server takes it. */
  address: string;
  /** Lower-case name → records; change it at will. */
  records: Map<string, DnsRecords>;
  mode: DnsMode;
  /** Every query received, in order. */
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export async function startDnsServer(
  options: { records?: Record<string, DnsRecords>; host?: string; mode?: DnsMode } = {},
): Promise<TestDnsServer> {
  const host = options.host ?? '127.0.0.1';
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const records = new Map(Object.entries(options.records ?? {}).map(([name, r]) => [name.toLowerCase(), r]));
  const state: TestDnsServer = {
    host,
    port: 0,
    address: '',
    records,
    mode: options.mode ?? 'answer',
    queries: [],
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };

  socket.on('message', (message, peer) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    state.queries.push({ name, type: question.type });
    if (state.mode === 'silent') return;

    const known = records.get(name);
    let rcode: number = RCODE.NOERROR;
    if (state.mode === 'servfail') rcode = RCODE.SERVFAIL;
    else if (state.mode === 'refused') rcode = RCODE.REFUSED;
    else if (!known) rcode = RCODE.NXDOMAIN;
    const values = rcode === RCODE.NOERROR && (question.type === 'A' || question.type === 'AAAA') ? (known?.[question.type] ?? []) : [];
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: query.questions ?? [],
      answers: values.map((data) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: 60, class: 'IN' as const, data })),
    });
    socket.send(response, peer.port, peer.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: 0 }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  state.port = socket.address().port;
  state.address = net.isIPv6(host) ? `[${host}]:${state.port}` : `${host}:${state.port}`;
  return state;
}
