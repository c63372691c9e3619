/**
 * The demo's DNS server: UDP on loopback, A records from a table, NXDOMAIN for every other name, as a DNS filter
 * answers. Just enough of RFC 1035 for one question per query; pushcheck asks it with --dns-server, so no name the
 * demo checks ever goes to the system resolver.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface DemoDnsServer {
  host: string;
  port: number;
  /** `host:port`, as --dns-server takes it. */
  address: string;
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const TTL_S = 60;

interface Question {
  id: number;
  recursionDesired: boolean;
  name: string;
  type: number;
  /** The question section as received, echoed in the answer. */
  raw: Buffer;
}

/** The single question of a standard query; undefined for anything else (ignored, as a real server drops junk). */
export function parseQuery(message: Buffer): Question | undefined {
  if (message.length < 12) return undefined;
  const flags = message.readUInt16BE(2);
  const isQuery = (flags & 0x8000) === 0 && ((flags >> 11) & 0xf) === 0;
  if (!isQuery || message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = message[offset];
    if (length === undefined || (length & 0xc0) !== 0) return undefined;
    offset += 1;
    if (length === 0) break;
    if (offset + length > message.length) return undefined;
    labels.push(message.toString('latin1', offset, offset + length));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return {
    id: message.readUInt16BE(0),
    recursionDesired: (flags & 0x0100) !== 0,
    name: labels.join('.').toLowerCase(),
    type: message.readUInt16BE(offset),
    raw: message.subarray(12, offset + 4),
  };
}

/** The answer to `question`: its A records when the name is known, NOERROR without records for other types. */
export function answer(question: Question, answers: ReadonlyMap<string, string[]>): Buffer {
  const known = answers.get(question.name);
  const records = known && question.type === TYPE_A ? known.filter((a) => net.isIPv4(a)) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(question.id, 0);
  // QR, AA, RD as asked, RA; NXDOMAIN for unknown names.
  header.writeUInt16BE(0x8000 | 0x0400 | (question.recursionDesired ? 0x0100 : 0) | 0x0080 | (known ? 0 : RCODE_NXDOMAIN), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL_S, 6);
    rr.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  return Buffer.concat([header, question.raw, ...rrs]);
}

/** Listens on `host`, a free port. Rejects with the bind error (EADDRNOTAVAIL where `host` is not configured). */
export async function startDnsServer(host: string, answers: ReadonlyMap<string, string[]>): Promise<DemoDnsServer> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, peer) => {
    const question = parseQuery(message);
    if (question) socket.send(answer(question, answers), peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: 0 }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  const { port } = socket.address();
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    address: `${host}:${port}`,
    close: () => (closing ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}
