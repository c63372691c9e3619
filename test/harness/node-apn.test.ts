/**
 * The mock APNs against an APNs client nobody here wrote: @parse/node-apn, with the credentials the harness
 * hands out. It checks what it is given (a certificate without the environment's extension is refused), so
 * this also holds the harness's push certificates to what Apple issues.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import apn from '@parse/node-apn';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { issuePushCertificate } from '../../src/harness/services/push-certificates.js';
import { hexToken } from './helpers.js';

let h: Harness;
const providers: apn.Provider[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const p of providers) await p.shutdown();
  await h?.close();
});

/** node-apn pointed at the harness: `address` and `port` instead of Apple's host, the harness CA trusted. */
function provider(auth: Partial<apn.ProviderOptions>): apn.Provider {
  const p = new apn.Provider({ address: '127.0.0.1', port: h.endpoints.apns.port, ca: [h.caPem], production: false, ...auth });
  providers.push(p);
  return p;
}

function note(topic: string): apn.Notification {
  const n = new apn.Notification();
  n.topic = topic;
  n.alert = 'pushcheck harness';
  return n;
}

let next = 0x5000;
const newToken = (): string => hexToken(next++);

describe.each([
  ['certificate', () => ({ cert: h.credentials.provider.certificate.cert, key: h.credentials.provider.certificate.key })],
  ['token', () => ({ token: { key: h.credentials.token.privateKeyPem, keyId: h.credentials.token.keyId, teamId: h.credentials.token.teamId } })],
] as const)('node-apn with %s auth', (_kind, auth) => {
  const topic = (): string => h.credentials.provider.topic;
  // One provider for the describe: a second one would sign a provider token with another iat within 20 minutes,
  // which APNs (and the mock) answers 429 TooManyProviderTokenUpdates whenever the tests straddle a second.
  let shared: apn.Provider | undefined;
  const client = (): apn.Provider => (shared ??= provider(auth()));

  it('a push to a known token is sent (200), its apns-id echoed as sent', async () => {
    const token = newToken();
    h.apns.registerToken(token, topic());
    const n = note(topic());
    n.id = randomUUID().toUpperCase();
    const result = await client().send(n, token);
    expect(result.failed).toEqual([]);
    // Echoed as sent, upper case included. (127.0.0.1 names no environment: no apns-unique-id, apns-reasons.test.ts.)
    expect(result.sent).toEqual([{ device: token, 'apns-id': n.id }]);
    expect(h.apns.isConnected(token)).toBe(false);
    expect(h.apns.storedFor(token).map((s) => s.apnsId)).toEqual([n.id]);
  });

  it('an unknown token is BadDeviceToken (400)', async () => {
    const token = newToken();
    const result = await client().send(note(topic()), token);
    expect(result.sent).toEqual([]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ device: token, status: 400, response: { reason: 'BadDeviceToken' } });
  });

  it('an unregistered token is 410 Unregistered with the time it stopped being valid', async () => {
    const token = newToken();
    h.apns.registerToken(token, topic());
    const at = Date.now() - 60_000;
    h.apns.unregisterToken(token, at);
    const result = await client().send(note(topic()), token);
    expect(result.failed[0]).toMatchObject({ device: token, status: 410, response: { reason: 'Unregistered', timestamp: at } });
  });
});

describe('node-apn and the harness push certificates', () => {
  it('refuses a certificate without the extension of the environment it is set up for, as it refuses one of Apple', async () => {
    const productionOnly = await issuePushCertificate(h.ca, { topic: 'com.example.prod', uuid: '0f0f0f0f-0000-4000-8000-000000000000', environments: ['production'] });
    expect(() => provider({ cert: productionOnly.cert, key: productionOnly.key })).toThrow(/does not support configured environment, production: false/);
    // The harness's own certificates carry both environments.
    expect(() => provider({ cert: h.credentials.mdmPush.certificate.cert, key: h.credentials.mdmPush.certificate.key, production: true })).not.toThrow();
  });
});
