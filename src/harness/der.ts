/**
 * A small DER writer: enough for the few fixed structures the harness writes itself (Apple's push
 * certificate extensions, a PKCS#12 file). Everything is built as bytes, definite lengths only.
 */

/** A tag, its length (short or long form) and the content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const length: number[] = [];
  if (n < 0x80) length.push(n);
  else {
    for (let v = n; v > 0; v = Math.floor(v / 256)) length.unshift(v & 0xff);
    length.unshift(0x80 | length.length);
  }
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, bytes);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
export const bmpString = (text: string): Buffer => tlv(0x1e, Buffer.from(text, 'utf16le').swap16());
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
/** `[n] EXPLICIT`: a context-specific constructed tag around one value. */
export const explicit = (n: number, value: Uint8Array): Buffer => tlv(0xa0 | n, value);

/** A non-negative INTEGER. */
export function integer(value: number): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
