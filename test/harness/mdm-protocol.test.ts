/**
 * The mock MDM server speaks Apple's MDM protocol over HTTPS: check-in and command exchange as property
 * lists, XML and binary, sent here by hand as a device would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { buildBinary, parse, type PlistValue } from 'plist';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { encodePlistXml } from '../../src/harness/plist.js';

let h: Harness;
let agent: Agent;
beforeAll(async () => {
  h = await startHarness();
  agent = new Agent({ connect: { ca: h.caPem, servername: 'mdm.pushcheck.test' } });
});
afterAll(async () => {
  await agent?.close();
  await h?.close();
});

async function put(path: string, body: Uint8Array | string, contentType: string): Promise<{ status: number; type: string | undefined; text: string }> {
  const res = await request(`https://127.0.0.1:${h.endpoints.mdm.port}${path}`, { method: 'PUT', dispatcher: agent, headers: { 'content-type': contentType }, body });
  return { status: res.statusCode, type: res.headers['content-type'] as string | undefined, text: await res.body.text() };
}
const checkIn = (message: Record<string, PlistValue>, binary = false) =>
  put('/mdm/checkin', binary ? Buffer.from(buildBinary(message)) : encodePlistXml(message), 'application/x-apple-aspen-mdm-checkin');
const connect = (message: Record<string, PlistValue>, binary = false) =>
  put('/mdm/connect', binary ? Buffer.from(buildBinary(message)) : encodePlistXml(message), 'application/x-apple-aspen-mdm');

describe('Apple MDM protocol', () => {
  it.each([false, true])('check-in and command exchange (binary plists: %s)', async (binary) => {
    const udid = binary ? 'B1NARY-UDID' : 'XML-UDID';
    const token = Buffer.alloc(32, binary ? 0xb1 : 0x11);
    expect((await checkIn({ MessageType: 'Authenticate', UDID: udid, Topic: h.mdmTopic }, binary)).status).toBe(200);
    const update = await checkIn({ MessageType: 'TokenUpdate', UDID: udid, Topic: h.mdmTopic, Token: token, PushMagic: 'magic-1', UnlockToken: Buffer.from('unlock') }, binary);
    expect([update.status, update.text]).toEqual([200, '']);
    expect(h.mdm.device(udid).token).toBe(token.toString('hex'));

    const lock = h.mdm.enqueue(udid, 'DeviceLock', { command: { Message: 'Call IT', PhoneNumber: '+1 555 0199' } });
    const idle = await connect({ UDID: udid, Status: 'Idle' }, binary);
    expect(idle.status).toBe(200);
    expect(idle.type).toMatch(/^application\/xml/);
    expect(parse(idle.text)).toEqual({ CommandUUID: lock.id, Command: { RequestType: 'DeviceLock', Message: 'Call IT', PhoneNumber: '+1 555 0199' } });
    const done = await connect({ UDID: udid, Status: 'Acknowledged', CommandUUID: lock.id, MessageResult: 'Success' }, binary);
    expect([done.status, done.text]).toEqual([200, '']);
    expect(lock.state).toBe('acknowledged');
    expect(lock.response).toEqual({ MessageResult: 'Success' });

    const list = h.mdm.enqueue(udid, 'ProfileList');
    expect(parse((await connect({ UDID: udid, Status: 'Idle' }, binary)).text)).toMatchObject({ CommandUUID: list.id, Command: { RequestType: 'ProfileList' } });
    const chain = [{ ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'Profile not found' }];
    expect((await connect({ UDID: udid, Status: 'Error', CommandUUID: list.id, ErrorChain: chain }, binary)).status).toBe(200);
    expect(list.history.at(-1)).toMatchObject({ event: 'error', detail: 'Error: MCMDMErrorDomain 12021: Profile not found' });

    expect((await checkIn({ MessageType: 'CheckOut', UDID: udid, Topic: h.mdmTopic }, binary)).status).toBe(200);
    expect(h.mdm.devices.has(udid)).toBe(false);
  });

  it('answers a body that is not a property list, an unknown message type or a missing key with 400', async () => {
    expect((await put('/mdm/checkin', '{"MessageType":"Authenticate"}', 'application/json')).status).toBe(400);
    expect((await checkIn({ MessageType: 'Enroll', UDID: 'x' })).status).toBe(400);
    expect((await checkIn({ MessageType: 'TokenUpdate', UDID: 'x', Topic: h.mdmTopic, PushMagic: 'm' })).text).toContain('Token is required');
    expect((await connect({ UDID: 'nobody', Status: 'Idle' })).status).toBe(404);
    expect((await connect({ UDID: 'nobody', Status: 'Sleeping' })).status).toBe(400);
  });

  it('the simulated devices enroll and answer over it', async () => {
    const [device] = h.addDevices({ ios: 1 });
    const deadline = Date.now() + 10_000;
    while (!h.mdm.devices.get(device!.profile.udid)?.token && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const action = h.mdm.enqueue(device!.profile.udid, 'DeviceInformation');
    while (action.state !== 'acknowledged' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(action.state).toBe('acknowledged');
  });
});
