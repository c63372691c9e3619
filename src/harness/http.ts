/**
 * What the harness's HTTP/1.1 adapters (MDM, FCM, admin) share: one error type for answers other than
 * 200, one body reader, one JSON writer, and one wrapper that tells an expected error from a bug.
 *
 * A bug (anything thrown that is not an `HttpError`) is answered 500 as a server would, but it is not
 * silent: it is written to stderr with its stack and kept in a process-wide list that the test suite
 * checks after every test (test/setup/harness-bugs.ts), so a handler that breaks fails the tests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** An answer other than 2xx, with the message the client is shown. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const MAX_BODY_BYTES = 64 * 1024;

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** The whole body as bytes; 413 beyond `maxBytes`. */
export async function readBody(req: Request, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body (an empty body is `{}`); 400 when it is anything else. */
export async function readJsonBody(req: Request, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const text = (await readBody(req, maxBytes)).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'body is not a JSON object');
  return value as Record<string, unknown>;
}

/** Writes `value` as JSON (Infinity as null), or an empty body when it is undefined. */
export function sendJson(res: Response, status: number, value?: unknown, contentType = 'application/json'): void {
  if (value === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(value, (_k, v: unknown) => (v === Infinity ? null : v));
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A bug a harness handler threw: where, and what. */
export interface HarnessBug {
  server: string;
  request: string;
  error: unknown;
}

const BUGS = Symbol.for('pushcheck.harness.bugs');
const bugList = (): HarnessBug[] => ((globalThis as Record<symbol, HarnessBug[]>)[BUGS] ??= []);

/** Records a bug and writes it to stderr with its stack. */
export function reportHarnessBug(bug: HarnessBug): void {
  bugList().push(bug);
  const detail = bug.error instanceof Error ? (bug.error.stack ?? bug.error.message) : String(bug.error);
  process.stderr.write(`pushcheck harness: BUG in the ${bug.server} server handling ${bug.request} (answered 500):\n${detail}\n`);
}

/** The bugs recorded since the last call, removing them from the list. */
export function takeHarnessBugs(): HarnessBug[] {
  return bugList().splice(0);
}

/**
 * A request listener around an async handler: an `HttpError` becomes its status and `{"error": message}`
 * (or what `renderError` makes of it); anything else is a bug, reported and answered 500.
 */
export function serve<Req extends Request, Res extends Response>(
  server: string,
  handler: (req: Req, res: Res) => Promise<void>,
  renderError: (res: Res, err: HttpError) => void = (res, err) => sendJson(res, err.status, { error: err.message }),
): (req: Req, res: Res) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (!res.headersSent) renderError(res, err);
        return;
      }
      reportHarnessBug({ server, request: `${req.method} ${req.url}`, error: err });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error in the harness (a bug: see its log)' });
      else res.destroy?.();
    });
  };
}
