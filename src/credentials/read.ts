/**
 * Reading a credential file: PEM (certificates, with the key in the same file or in --key), DER, PKCS#12 and
 * token-auth keys (.p8). The format is told by the content, not the name (a .pem renamed .cer still reads).
 * Every problem is a one-line FileError naming the file (exit 2). Passphrases and keys stay in memory here: they
 * are never put in an error, a result or a file.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FileError, UsageError } from '../errors.js';
import type { CredentialSpec } from '../types.js';
import { isPkcs12, readPkcs12, WrongPassphrase } from './pkcs12.js';

export type CertificateFormat = 'pem' | 'der' | 'pkcs12';

export type LoadedCredential =
  | {
      kind: 'certificate';
      file: string;
      format: CertificateFormat;
      /** DER, in file order (a chain may follow the push certificate). */
      certificates: Buffer[];
      key?: KeyObject;
    }
  | { kind: 'token-key'; file: string; format: 'p8'; key: KeyObject; keyId?: string; teamId?: string };

/** Asks for a passphrase (the CLI's prompt without echo); absent where nobody can answer. */
export type AskPassphrase = (file: string) => Promise<string>;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const KEY_LABEL = /^(ENCRYPTED |RSA |EC )?PRIVATE KEY$/;
/** Apple names downloaded token keys AuthKey_<KEYID>.p8. */
const AUTH_KEY_NAME = /^AuthKey_([^.]+)\.p8$/i;

function readBytes(file: string, option = ''): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : `cannot read it (${code ?? 'error'})`;
    throw new FileError(file, 0, option, why);
  }
}

function passphraseFromEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new UsageError(`--passphrase-env ${name}: the environment variable ${name} is not set`);
  return value;
}

function needsPassphrase(file: string): FileError {
  return new FileError(file, 0, '', 'needs a passphrase: put it in an environment variable and name it with --passphrase-env VAR');
}

/** A passphrase for `file`: from the named variable, else asked, else none can be had (an error). */
async function askFor(spec: CredentialSpec, file: string, ask: AskPassphrase | undefined): Promise<string> {
  if (spec.passphraseEnv !== undefined) return passphraseFromEnv(spec.passphraseEnv);
  if (!ask) throw needsPassphrase(file);
  return ask(file);
}

function wrongPassphrase(file: string, spec: CredentialSpec): FileError {
  const from = spec.passphraseEnv !== undefined ? ` (from $${spec.passphraseEnv})` : '';
  return new FileError(file, 0, '', `wrong passphrase${from}: the file's integrity check does not verify with it`);
}

function isWrongKeyPassphrase(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return /BAD_DECRYPT|BAD_PASSWORD|ERR_MISSING_PASSPHRASE|INTERRUPTED_OR_CANCELLED/.test(code) || /bad decrypt/i.test(String(err));
}

/** A private key from PEM text or DER bytes, asking for a passphrase if it is encrypted. */
async function privateKeyOf(
  data: string | Buffer,
  file: string,
  spec: CredentialSpec,
  ask: AskPassphrase | undefined,
): Promise<KeyObject> {
  const encrypted = typeof data === 'string' && /ENCRYPTED/.test(data);
  const open = (passphrase?: string): KeyObject =>
    typeof data === 'string'
      ? createPrivateKey({ key: data, format: 'pem', ...(passphrase !== undefined && { passphrase }) })
      : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  try {
    return encrypted ? open(await askFor(spec, file, ask)) : open();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (encrypted && isWrongKeyPassphrase(err)) throw wrongPassphrase(file, spec);
    throw new FileError(file, 0, '', 'the private key is damaged or of an unknown kind');
  }
}

function checkedCertificate(der: Buffer, file: string, index: number): Buffer {
  try {
    new X509Certificate(der);
  } catch {
    throw new FileError(file, 0, '', `certificate ${index + 1} is damaged (not valid DER X.509)`);
  }
  return der;
}

function tokenKey(file: string, key: KeyObject, spec: CredentialSpec): LoadedCredential {
  const keyId = spec.keyId ?? AUTH_KEY_NAME.exec(basename(file))?.[1];
  return {
    kind: 'token-key',
    file,
    format: 'p8',
    key,
    ...(keyId !== undefined && { keyId }),
    ...(spec.teamId !== undefined && { teamId: spec.teamId }),
  };
}

async function fromPem(text: string, spec: CredentialSpec, ask: AskPassphrase | undefined): Promise<LoadedCredential> {
  const { file } = spec;
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, text: m[0] }));
  const certificates = blocks
    .filter((b) => b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE')
    .map((b, i) => checkedCertificate(Buffer.from(b.text.replace(/-----[^-]+-----/g, ''), 'base64'), file, i));
  const keyBlock = blocks.find((b) => KEY_LABEL.test(b.label));
  if (certificates.length === 0) {
    if (!keyBlock) throw new FileError(file, 0, '', 'no certificate or private key in it (PEM blocks found: none usable)');
    return tokenKey(file, await privateKeyOf(keyBlock.text, file, spec, ask), spec);
  }
  const key = keyBlock ? await privateKeyOf(keyBlock.text, file, spec, ask) : undefined;
  return { kind: 'certificate', file, format: 'pem', certificates, ...(key && { key }) };
}

async function fromPkcs12(bytes: Buffer, spec: CredentialSpec, ask: AskPassphrase | undefined): Promise<LoadedCredential> {
  const { file } = spec;
  const open = (passphrase: string) => {
    try {
      return readPkcs12(bytes, passphrase);
    } catch (err) {
      if (err instanceof WrongPassphrase) return undefined;
      throw new FileError(file, 0, '', err instanceof Error ? err.message : 'not a readable PKCS#12 file');
    }
  };
  // Many exported files have no passphrase at all: try that before asking.
  let contents = spec.passphraseEnv === undefined ? open('') : undefined;
  if (!contents) {
    contents = open(await askFor(spec, file, ask));
    if (!contents) throw wrongPassphrase(file, spec);
  }
  if (contents.certificates.length === 0) throw new FileError(file, 0, '', 'the PKCS#12 file holds no certificate');
  const certificates = contents.certificates.map((der, i) => checkedCertificate(der, file, i));
  const keyDer = contents.keys[0];
  let key: KeyObject | undefined;
  if (keyDer) {
    try {
      key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' });
    } catch {
      throw new FileError(file, 0, '', 'the private key in the PKCS#12 file is damaged or of an unknown kind');
    }
  }
  return { kind: 'certificate', file, format: 'pkcs12', certificates, ...(key && { key }) };
}

function isDerCertificate(bytes: Buffer): boolean {
  try {
    new X509Certificate(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Reads `spec.file` (and `spec.keyFile`); throws a FileError or UsageError (exit 2) for anything it cannot read. */
export async function readCredential(spec: CredentialSpec, ask?: AskPassphrase): Promise<LoadedCredential> {
  const { file } = spec;
  const bytes = readBytes(file);
  const text = bytes.toString('latin1');
  let credential: LoadedCredential;
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    credential = await fromPem(text, spec, ask);
  } else if (isDerCertificate(bytes)) {
    credential = { kind: 'certificate', file, format: 'der', certificates: [bytes] };
  } else if (isPkcs12(bytes)) {
    credential = await fromPkcs12(bytes, spec, ask);
  } else {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
    } catch {
      throw new FileError(file, 0, '', 'not a certificate, PKCS#12 or key file that pushcheck can read (PEM, DER, .p12/.pfx, .p8), or damaged');
    }
    credential = tokenKey(file, key, spec);
  }
  if (spec.keyFile !== undefined) {
    if (credential.kind !== 'certificate') throw new UsageError(`--key ${spec.keyFile}: ${file} is a key itself, not a certificate`);
    const keyBytes = readBytes(spec.keyFile, '--key');
    const keyText = keyBytes.toString('latin1');
    const keyPem = [...keyText.matchAll(PEM_BLOCK)].find((m) => KEY_LABEL.test(m[1]!))?.[0];
    if (/-----BEGIN/.test(keyText) && !keyPem) throw new FileError(spec.keyFile, 0, '', 'no private key in it');
    credential.key = await privateKeyOf(keyPem ?? keyBytes, spec.keyFile, spec, ask);
  }
  return credential;
}
