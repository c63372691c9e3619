/** The harness's HTTP helpers: a client's mistake is its status; a bug is answered 500, logged, and recorded. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError, readJsonBody, sendJson, serve, takeHarnessBugs } from '../../src/harness/http.js';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): Promise<string> {
  server = http.createServer(serve('test', handler));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('harness HTTP helpers', () => {
  it('reads a JSON object body; anything else is 400, too much is 413', async () => {
    const url = await start(async (req, res) => sendJson(res, 200, await readJsonBody(req, 100)));
    expect(await (await fetch(url, { method: 'POST', body: '{"a":1}' })).json()).toEqual({ a: 1 });
    expect(await (await fetch(url, { method: 'POST', body: '' })).json()).toEqual({});
    for (const body of ['[1]', 'null', '{', '"x"']) {
      const r = await fetch(url, { method: 'POST', body });
      expect([r.status, await r.json()]).toEqual([400, { error: 'body is not a JSON object' }]);
    }
    expect((await fetch(url, { method: 'POST', body: `{"a":"${'x'.repeat(200)}"}` })).status).toBe(413);
    expect(takeHarnessBugs()).toEqual([]);
  });

  it('a bug in a handler is answered 500, written to stderr with its stack, and recorded for the test suite', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const url = await start(async () => {
        throw new TypeError('cannot read properties of undefined');
      });
      const r = await fetch(`${url}/devices`, { method: 'POST' });
      expect(r.status).toBe(500);
      const bugs = takeHarnessBugs();
      expect(bugs.map((b) => [b.server, b.request])).toEqual([['test', 'POST /devices']]);
      const logged = stderr.mock.calls.map((c) => String(c[0])).join('');
      expect(logged).toContain('BUG in the test server handling POST /devices');
      expect(logged).toContain('TypeError: cannot read properties of undefined');
    } finally {
      stderr.mockRestore();
    }
  });

  it('an HttpError is the client mistake it names, not a bug', async () => {
    const url = await start(async () => {
      throw new HttpError(404, 'no route');
    });
    const r = await fetch(url);
    expect([r.status, await r.json()]).toEqual([404, { error: 'no route' }]);
    expect(takeHarnessBugs()).toEqual([]);
  });
});
