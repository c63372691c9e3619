/**
 * A push certificate named in a rule file's `credentials:` is checked at every scrape of that rule set, and its
 * expiry is exported as probe_ssl_earliest_cert_expiry, the name the certificate alerts of docs/prometheus use.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRuleSetFile } from '../../src/rules/load.js';
import { createIssuer, pushCertificate } from '../helpers/push-credentials.js';
import { LOOPBACK, startTcpServer, type TestServer } from '../helpers/servers.js';
import { sampleValue, serve, type Served } from './fixture.js';

const DAY_MS = 86_400_000;
const TOPIC = 'com.apple.mgmt.External.5c1f6b6e-8a3e-4d4b-9f0e-2f5a0c7d9e11';

describe('pushcheck serve with credentials in the rule file', () => {
  let dir: string;
  let open: TestServer;
  let served: Served;
  let notAfter: Date;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-serve-cred-'));
    open = await startTcpServer();
    notAfter = new Date(Math.floor((Date.now() + 10 * DAY_MS) / 1000) * 1000);
    const credential = await pushCertificate({ issuer: await createIssuer(), topic: TOPIC, environment: 'production', notAfter });
    writeFileSync(path.join(dir, 'mdm-push.pem'), credential.cert + credential.key);
    const ruleFile = path.join(dir, 'my-mdm.yaml');
    writeFileSync(
      ruleFile,
      [
        'id: my-mdm',
        'title: our MDM server',
        'credentials:',
        '  - mdm-push.pem',
        'rules:',
        '  - id: server',
        `    host: ${LOOPBACK}`,
        `    ports: [${open.port}]`,
        '    check: tcp',
        '    purpose: the MDM server',
        '    impact: devices get no commands',
        '    severity: critical',
        '',
      ].join('\n'),
    );
    served = await serve([loadRuleSetFile(ruleFile)]);
  });

  afterAll(async () => {
    await served?.server.close(0);
    await open?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports the push certificate expiry beside the network path, and warns within --warn-days', async () => {
    const body = await (await fetch(`${served.server.url}/probe?ruleset=my-mdm`)).text();
    expect(sampleValue(body, 'probe_success', { rule: 'server' })).toBe(1);
    const file = path.join(dir, 'mdm-push.pem');
    expect(sampleValue(body, 'probe_ssl_earliest_cert_expiry', { host: file, port: '0' })).toBe(notAfter.getTime() / 1000);
    expect(sampleValue(body, 'pushcheck_credential_info', { host: file, topic: TOPIC, environment: 'production', mdm: 'true' })).toBe(1);
    // Ten days left, within the default 30 of --warn-days: a warning, not a pass.
    expect(sampleValue(body, 'pushcheck_target_status', { host: file, status: 'warn' })).toBe(1);
    // No key material in the answer.
    expect(body).not.toMatch(/PRIVATE KEY|BEGIN/);
  });
});
