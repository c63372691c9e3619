/**
 * MDM commands carry the keys Apple's command reference gives their RequestType, and the simulated devices answer
 * with the keys of the matching response (QueryResponses, ProfileList, …): checked against the catalogue, and end to
 * end through the harness's own MDM server, its admin API and devices over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'plist';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { commandProblem, defaultCommandKeys, MDM_COMMANDS } from '../../src/harness/services/mdm-commands.js';
import { REQUEST_TYPES } from '../../src/harness/fleet/simulate.js';
import { answerCommand, isMalformed } from '../../src/harness/fleet/device-answers.js';
import { decodePlistDict } from '../../src/harness/plist.js';
import { adminClient, enrolledIosDevice, waitFor } from './helpers.js';

describe('command keys', () => {
  it('every command the simulation sends carries its documented keys and is well formed', () => {
    for (const type of REQUEST_TYPES) {
      const keys = defaultCommandKeys(type);
      expect(Object.keys(keys).length, type).toBeGreaterThan(0);
      for (const key of Object.keys(keys)) expect(Object.keys(MDM_COMMANDS[type]!.keys), `${type}.${key}`).toContain(key);
      expect(commandProblem({ ...keys, RequestType: type }), type).toBeUndefined();
    }
    expect(defaultCommandKeys('DeviceInformation').Queries).toContain('UDID');
    // InstallProfile's Payload is data holding a profile a device can read.
    expect(decodePlistDict(defaultCommandKeys('InstallProfile').Payload as Uint8Array).PayloadIdentifier).toEqual(expect.any(String));
  });

  it.each([
    [{ RequestType: 'DeviceInformation' }, 'DeviceInformation: Queries is required'],
    [{ RequestType: 'DeviceInformation', Queries: 'UDID' }, 'DeviceInformation: Queries must be array'],
    [{ RequestType: 'InstallProfile', Payload: 'not data' }, 'InstallProfile: Payload must be data'],
    [{ RequestType: 'InstallApplication', iTunesStoreID: 1, ManifestURL: 'https://apps.example.com/m.plist' }, 'InstallApplication: exactly one of iTunesStoreID, Identifier, ManifestURL is required'],
    [{ RequestType: 'InstallApplication' }, 'InstallApplication: exactly one of iTunesStoreID, Identifier, ManifestURL is required'],
    [{ RequestType: 'Teleport' }, 'unknown RequestType Teleport'],
    [{}, 'RequestType is missing'],
  ])('a device calls %j malformed: %s', (command, problem) => {
    expect(commandProblem(command)).toBe(problem);
    expect(isMalformed({ CommandUUID: 'x', Command: command as never })).toBe(true);
  });

  it('a device answers as one: QueryResponses for the queries it knows, the profiles it installed, errors with an ErrorChain', () => {
    const device = { udid: 'IOS-000007', platform: 'ios' as const };
    const state = { profiles: new Map(), apps: new Map() };
    const run = (Command: Record<string, unknown>) => answerCommand(device, state, { CommandUUID: 'c', Command: Command as never });
    const info = run({ RequestType: 'DeviceInformation', Queries: ['UDID', 'OSVersion', 'NoSuchQuery'] });
    expect(info.status).toBe('Acknowledged');
    expect(Object.keys(info.keys.QueryResponses as object).sort()).toEqual(['OSVersion', 'UDID']);
    expect((info.keys.QueryResponses as Record<string, unknown>).UDID).toBe('IOS-000007');

    const before = run({ RequestType: 'ProfileList' }).keys.ProfileList as Array<Record<string, unknown>>;
    expect(run({ RequestType: 'InstallProfile', Payload: defaultCommandKeys('InstallProfile').Payload }).status).toBe('Acknowledged');
    const after = run({ RequestType: 'ProfileList' }).keys.ProfileList as Array<Record<string, unknown>>;
    expect(after.length).toBe(before.length + 1);
    const installed = after.at(-1)!.PayloadIdentifier as string;
    expect(run({ RequestType: 'RemoveProfile', Identifier: installed }).status).toBe('Acknowledged');
    expect(run({ RequestType: 'ProfileList' }).keys.ProfileList).toEqual(before);

    const missing = run({ RequestType: 'RemoveProfile', Identifier: installed });
    expect(missing.status).toBe('Error');
    expect((missing.keys.ErrorChain as Array<Record<string, unknown>>)[0]).toMatchObject({ ErrorDomain: 'MCProfileErrorDomain', LocalizedDescription: expect.stringContaining(installed) });
    expect(run({ RequestType: 'InstallProfile', Payload: Buffer.from('not a plist') }).status).toBe('Error');
    expect(run({ RequestType: 'InstallApplication', Identifier: 'com.example.app' }).keys).toEqual({ Identifier: 'com.example.app', State: 'Installing' });
    expect(run({ RequestType: 'InstalledApplicationList' }).keys.InstalledApplicationList).toContainEqual(expect.objectContaining({ Identifier: 'com.example.app' }));
  });
});

describe('over real sockets with the harness MDM server', () => {
  let h: Harness;
  let udid: string;
  const admin = adminClient(() => h.endpoints.admin.port);
  /** Queues a command through the admin API and waits until the simulated device has answered it. */
  const roundTrip = async (body: Record<string, unknown>): Promise<any> => {
    const queued = await admin('POST', '/actions', { udid, ...body });
    expect(queued.status).toBe(201);
    const id = queued.json.actions[0].id as string;
    await waitFor(() => h.mdm.actions.get(id)?.finishedAtMs !== undefined, 10_000, `answer to ${String(body.requestType)}`);
    return (await admin('GET', `/actions/${id}`)).json;
  };

  beforeAll(async () => {
    h = await startHarness();
    ({ udid } = await enrolledIosDevice(h));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the command plist carries its keys; the answer is kept with the action and shown by the admin API', async () => {
    const info = await roundTrip({ requestType: 'DeviceInformation' });
    expect(info.state).toBe('acknowledged');
    expect(info.command).toEqual({ RequestType: 'DeviceInformation', Queries: defaultCommandKeys('DeviceInformation').Queries });
    expect(info.response.QueryResponses.UDID).toBe(udid);
    expect(Object.keys(info.response.QueryResponses).sort()).toEqual([...(defaultCommandKeys('DeviceInformation').Queries as string[])].sort());
  });

  it('keys of your own through the admin API (data as base64): the device installs the profile and lists it', async () => {
    const payload = Buffer.from(build({ PayloadIdentifier: 'com.example.vpn', PayloadUUID: 'A1B2C3D4-0000-4000-8000-000000000001', PayloadDisplayName: 'VPN', PayloadVersion: 1 }));
    const install = await roundTrip({ requestType: 'InstallProfile', command: { Payload: payload.toString('base64') } });
    expect(install.state).toBe('acknowledged');
    expect(install.command.Payload).toBe(payload.toString('base64'));
    const list = await roundTrip({ requestType: 'ProfileList' });
    expect(list.response.ProfileList).toContainEqual(expect.objectContaining({ PayloadIdentifier: 'com.example.vpn', PayloadDisplayName: 'VPN' }));
  });

  it('a malformed command is answered CommandFormatError and ends as an error', async () => {
    const malformed = await roundTrip({ requestType: 'InstallProfile', command: {} });
    expect(malformed.state).toBe('error');
    expect(malformed.history.at(-1)).toMatchObject({ event: 'error', detail: 'CommandFormatError' });
  });

  it('command keys that cannot be right are a 400 naming them', async () => {
    expect(await admin('POST', '/actions', { udid, requestType: 'InstallProfile', command: { Payload: 'not base64!' } })).toMatchObject({
      status: 400,
      json: { error: 'command.Payload must be base64 (it is data)' },
    });
    expect((await admin('POST', '/actions', { udid, command: ['Queries'] })).status).toBe(400);
  });
});
