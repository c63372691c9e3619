/**
 * A rule file's `credentials:` list: the APNs credentials the server behind the rules uses, checked in the same
 * run (`pushcheck ./my-mdm.yaml` checks the network path and the push certificate at once). Each entry is a path,
 * or a mapping with the options of `pushcheck cert`. Paths are relative to the rule file. A passphrase is only
 * ever named by its environment variable (`passphraseEnv`), never written in the file.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { describe, isMapping, type Fields, type FieldPath } from '../fields.js';
import type { CredentialSpec } from '../types.js';

const CREDENTIAL_KEYS = ['file', 'key', 'passphraseEnv', 'keyId', 'teamId', 'topic', 'live', 'apnsUrl'] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function pathIn(f: Fields, ruleFile: string, value: unknown, path: FieldPath): string {
  const given = f.string(value, path);
  const full = isAbsolute(given) ? given : resolve(dirname(ruleFile), given);
  let isFile = false;
  try {
    isFile = statSync(full).isFile();
  } catch {
    // Said below.
  }
  if (!isFile) f.fail(path, `no such file: ${full}`);
  return full;
}

function readCredential(f: Fields, ruleFile: string, raw: unknown, path: FieldPath): CredentialSpec {
  if (!isMapping(raw)) return { file: pathIn(f, ruleFile, raw, path), line: f.lineOf(path) };
  const c = f.mapping(raw, path, CREDENTIAL_KEYS, ['file']);
  const at = (key: string): FieldPath => [...path, key];
  const spec: CredentialSpec = { file: pathIn(f, ruleFile, c.file, at('file')), line: f.lineOf(path) };
  if (c.key !== undefined) spec.keyFile = pathIn(f, ruleFile, c.key, at('key'));
  if (c.passphraseEnv !== undefined) {
    const name = f.string(c.passphraseEnv, at('passphraseEnv'));
    if (!ENV_NAME.test(name)) f.fail(at('passphraseEnv'), 'the name of an environment variable (letters, digits, _), never the passphrase itself');
    spec.passphraseEnv = name;
  }
  for (const key of ['keyId', 'teamId', 'topic'] as const) if (c[key] !== undefined) spec[key] = f.string(c[key], at(key));
  if (c.live !== undefined) spec.live = f.boolean(c.live, at('live'));
  if (c.apnsUrl !== undefined) {
    const url = f.string(c.apnsUrl, at('apnsUrl'));
    if (!/^https:\/\/[^/@\s]+\/?$/.test(url)) f.fail(at('apnsUrl'), 'expected https://host[:port]');
    spec.apnsUrl = url.replace(/\/$/, '');
  }
  if (spec.live && spec.topic === undefined && /\.p8$/i.test(spec.file)) f.fail(at('topic'), 'a token key (.p8) needs the topic a live push uses');
  return spec;
}

/** The `credentials:` of a rule file; [] when there are none. */
export function readCredentials(f: Fields, ruleFile: string, raw: unknown): CredentialSpec[] {
  return f.list(raw, ['credentials']).map((item, i) => readCredential(f, ruleFile, item, ['credentials', i]));
}
