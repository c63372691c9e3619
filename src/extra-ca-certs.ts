/**
 * NODE_EXTRA_CA_CERTS, read at the first TLS context instead of while Node starts.
 *
 * Node 20 reads that file (and parses its own ~140 bundled roots with it) while it starts, before any JavaScript
 * (nodejs/node#40524): with a system bundle there, every start took 70 ms longer, `pushcheck --version` and TCP-only
 * runs included. Node 22 and 24 read it at the first TLS use. So bin/pushcheck.js, run as a program, starts Node
 * without the variable and hands its value over in {@link HANDOVER} as "<pid>:<path>". The CLI's first step,
 * {@link resumeExtraCaCerts}, puts NODE_EXTRA_CA_CERTS back into process.env, so that everything pushcheck starts
 * gets the user's environment as it was, and notes that this process's root store lacks the file;
 * {@link deferredExtraCas} then gives src/trust.ts the file's CAs for every context it makes. Shared (src/) because
 * trust.ts is.
 */
import { cryptoModule, tlsModule } from './v8-defaults.js';

/** The variable bin/pushcheck.js hands NODE_EXTRA_CA_CERTS over in: "<pid>:<path>", the pid of the node it starts. */
export const HANDOVER = 'PUSHCHECK_DEFERRED_EXTRA_CA_CERTS';

/**
 * The NODE_EXTRA_CA_CERTS file that Node was started without, if `env` holds a hand-over meant for this process:
 * one that names its pid (bin/pushcheck.js runs `exec node`, which keeps the shell's pid) or its parent's (a `node`
 * on PATH that starts the real one as a child instead of exec'ing it, as a version manager's shim may), and only
 * while NODE_EXTRA_CA_CERTS is absent (had Node been started with it, Node read it itself). The hand-over is taken
 * out of `env` whether or not it was meant for this process, and NODE_EXTRA_CA_CERTS put back when it was.
 */
export function takeDeferredExtraCaCerts(env: NodeJS.ProcessEnv, pid: number, ppid: number): string | undefined {
  const handover = env[HANDOVER];
  if (handover === undefined) return undefined;
  delete env[HANDOVER];
  const match = /^(\d+):(.+)$/s.exec(handover);
  if (!match || ![pid, ppid].includes(Number(match[1])) || env.NODE_EXTRA_CA_CERTS !== undefined) return undefined;
  const file = match[2] as string;
  env.NODE_EXTRA_CA_CERTS = file;
  return file;
}

/** Kept on the process object so that every bundle (start.cjs, check.cjs, main.js) of one process shares it. */
const DEFERRED = Symbol.for('pushcheck.deferredExtraCaCerts');

interface Deferred {
  file: string;
  /** The file's CAs that Node's bundled roots do not already hold: read at the first context. */
  cas?: readonly string[];
}

type WithDeferred = { [DEFERRED]?: Deferred };

/**
 * The CLI's first step: takes bin/pushcheck.js's hand-over, if it was meant for this process, and notes that its
 * root store lacks the file. A worker thread has a process object of its own and never sees the note: none of
 * pushcheck's workers is a TLS client.
 */
export function resumeExtraCaCerts(): void {
  const file = takeDeferredExtraCaCerts(process.env, process.pid, process.ppid);
  if (file !== undefined) (process as WithDeferred)[DEFERRED] = { file };
}

const NONE: readonly string[] = [];

/**
 * The CAs (PEM) of the NODE_EXTRA_CA_CERTS file whose reading bin/pushcheck.js deferred, for trust.ts to add to
 * each context: read and checked at the first call, kept for the process. None when this process's start was not
 * deferred (Node read the file itself, or there is none). Those already among Node's bundled roots are left out:
 * the store holds them anyway, and parsing a system bundle's 120-odd copies again cost each context 25 ms on Node 20.
 */
export function deferredExtraCas(): readonly string[] {
  const deferred = (process as WithDeferred)[DEFERRED];
  if (!deferred) return NONE;
  deferred.cas ??= readExtraCas(deferred.file);
  return deferred.cas;
}

// What Node's reader (OpenSSL's PEM_read_bio_X509) goes through: every PEM block, from its BEGIN line to the first
// END line, or to the end of the file when there is none, which makes it a bad one. It takes CERTIFICATE blocks (and
// the old X509 name) and passes over those of any other kind (a key, a TRUSTED CERTIFICATE), but only once it has
// read them: one whose END line or base64 is bad stops it as a bad certificate does.
const PEM_BLOCK = /^-----BEGIN ([^\n]*?)-----[ \t\r]*$([\s\S]*?)(?:^-----END ([^\n]*)|(?![\s\S]))/gm;
const CERTIFICATE_NAMES = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
/** OpenSSL's errors of reading a PEM block (not of decrypting or decoding what it holds). */
const UNREADABLE_PEM = new Set(['ERR_OSSL_PEM_BAD_BASE64_DECODE', 'ERR_OSSL_PEM_BAD_END_LINE']);
type ReadError = Error & { code?: string };
const unreadable = (error: ReadError): boolean => error.code !== undefined && UNREADABLE_PEM.has(error.code);
const base64Of = (pem: string): string => pem.replace(/-----[^-\n]*-----|\s+/g, '');

/**
 * Reads the file as Node does: a file that cannot be opened gives Node's warning and no CA, a folder or a file
 * without certificates neither; the certificates are taken in order up to the first bad block (a certificate's or
 * any other's), which gives Node's warning with OpenSSL's reason and ends the reading.
 */
function readExtraCas(file: string): readonly string[] {
  let text: string;
  try {
    text = process.getBuiltinModule('node:fs').readFileSync(file, 'latin1');
  } catch (err) {
    // Node opens a folder and finds no certificate in it.
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR') warnIgnored(file, systemReason(err as NodeJS.ErrnoException));
    return NONE;
  }
  // Left out only where the default store is Node's bundled roots: a Node built to use OpenSSL's store instead
  // (--openssl-use-def-ca-store, as some distributions build it) may lack some of them.
  const ownStore = String((process.config.variables as Record<string, unknown>).openssl_use_def_ca_store) === 'true';
  const bundled = new Set(ownStore ? [] : tlsModule().rootCertificates.map(base64Of));
  const cas: string[] = [];
  for (const [block, name, body, end] of text.matchAll(PEM_BLOCK)) {
    if (CERTIFICATE_NAMES.has(name as string)) {
      if (bundled.has(base64Of(block))) continue;
      const read = ownCertificate(block);
      if ('error' in read) {
        warnIgnored(file, decodeReason(read.error));
        break;
      }
      cas.push(read.pem);
    } else {
      // Read by OpenSSL as a certificate with the same lines (and the END line only where it names the block's kind):
      // an error of the reading stops Node's reader, one of the content (not a certificate's) does not.
      const matchingEnd = end?.startsWith(`${name}-----`) ? '-----END CERTIFICATE-----' : '';
      const read = readCertificate(`-----BEGIN CERTIFICATE-----${body}${matchingEnd}`);
      if ('error' in read && unreadable(read.error)) {
        warnIgnored(file, decodeReason(read.error));
        break;
      }
    }
  }
  return cas;
}

/**
 * The certificate of a CERTIFICATE block as Node's reader takes it (PEM_read_bio_X509): the block's first DER element,
 * whatever follows it. As PEM, cut to that element: trust.ts adds CAs with addCACert, which reads what follows a
 * certificate as OpenSSL's trust settings (PEM_read_bio_X509_AUX), so bytes after it could have rejected a purpose
 * (a CA refused for TLS servers) that Node's reading trusts, and bytes that are no such settings made the block fail
 * here, and the reading stop, where Node's reader goes on.
 */
function ownCertificate(block: string): { pem: string } | { error: ReadError } {
  const read = readCertificate(block);
  if ('cert' in read) return { pem: pemOf(read.cert.raw) };
  if (unreadable(read.error)) return read;
  // The PEM read, its DER did not: once more with the first element alone, which is all Node's reader decodes.
  const der = Buffer.from(base64Of(block), 'base64');
  const own = firstElement(der);
  if (own === undefined || own.length === der.length) return read;
  const cut = pemOf(own);
  const readCut = readCertificate(cut);
  return 'error' in readCut ? readCut : { pem: cut };
}

/** The first DER element of `der` (tag, length, contents), if its length can be read and fits. */
function firstElement(der: Buffer): Buffer | undefined {
  const first = der[1];
  if (first === undefined) return undefined;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4 || der.length < 2 + octets) return undefined;
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + (der[2 + i] as number);
    header += octets;
  }
  return header + length <= der.length ? der.subarray(0, header + length) : undefined;
}

const pemOf = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

/** `pem` read by OpenSSL as a certificate, or why it does not read. */
function readCertificate(pem: string): { cert: import('node:crypto').X509Certificate } | { error: ReadError } {
  try {
    return { cert: new (cryptoModule().X509Certificate)(pem) };
  } catch (err) {
    return { error: err as ReadError };
  }
}

/**
 * OpenSSL's reason for a certificate that does not read, as Node words it. X509Certificate throws the first error
 * OpenSSL queued, which Node 20's reader names too; Node 22 and later name the last one, which is PEM's own ("bad
 * base64 decode", "bad end line") or, for a certificate whose DER does not decode, PEM's "ASN1 lib".
 */
function decodeReason(err: ReadError): string {
  const namesLast = Number(process.versions.node.split('.')[0]) > 20;
  return namesLast && err.code?.startsWith('ERR_OSSL_ASN1_') ? 'error:0488000D:PEM routines::ASN1 lib' : err.message;
}

/** Node's own words (src/crypto/crypto_context.cc), written where and as Node writes them: to stderr, at once. */
function warnIgnored(file: string, reason: string): void {
  process.stderr.write(`Warning: Ignoring extra certs from \`${file}\`, load failed: ${reason}\n`);
}

/**
 * The C library's words (strerror(), glibc's) for what opening a file to read can fail with (open(2)), which OpenSSL
 * gives in Node's warning; libuv, whose error pushcheck's own reading gets, words them otherwise ("no such device or
 * address", "too many symbolic links encountered"). The reasons are OpenSSL's, so this is Linux's text; other
 * systems word a few of them otherwise.
 */
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  EFBIG: 'File too large',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EOVERFLOW: 'Value too large for defined data type',
  EOPNOTSUPP: 'Operation not supported',
  ENOTSUP: 'Operation not supported',
  ESTALE: 'Stale file handle',
  EREMOTEIO: 'Remote I/O error',
  ENOMEDIUM: 'No medium found',
};

/** OpenSSL's text for a failed fopen(): "error:80000002:system library::No such file or directory". */
function systemReason({ code, errno, message }: NodeJS.ErrnoException): string {
  const words = code === undefined ? undefined : STRERROR[code];
  if (words === undefined || errno === undefined) return message;
  return `error:${(0x80000000 + Math.abs(errno)).toString(16).toUpperCase()}:system library::${words}`;
}
