/**
 * The HTTP plumbing of the provider fixtures (test/support/twilio-voice.ts, whatsapp.ts): a local server
 * that counts what it is asked, JSON answers, bodies, Basic auth and Twilio's error shape (sms.ts's too).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type WaitOpts = { timeoutMs?: number; count?: number };

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The form of an `application/x-www-form-urlencoded` request; any other type leaves it empty, as on Twilio. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  return new URLSearchParams(isForm ? await readBody(req) : '');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** What a fixture counts: every HTTP request (refused ones too), and the TCP connections clients opened. */
export interface Counts {
  readonly requests: number;
  readonly connections: number;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<{ server: Server; base: string; counts: Counts }> {
  const tally = { requests: 0, connections: 0 };
  const server = createServer((req, res) => {
    tally.requests++;
    handler(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  server.on('connection', () => tally.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const counts: Counts = {
    get requests() {
      return tally.requests;
    },
    get connections() {
      return tally.connections;
    },
  };
  return { server, base: `http://127.0.0.1:${port}`, counts };
}

/** The fixture's fields with the live counts as its own read-only properties. */
export function withCounts<T extends Counts>(fields: Omit<T, keyof Counts>, counts: Counts): T {
  return Object.defineProperties(fields, Object.getOwnPropertyDescriptors(counts)) as T;
}

export function closeServer(server: Server): Promise<void> {
  // fetch keeps connections alive; without this close() would wait for them to idle out.
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

export function basicAuth(req: IncomingMessage): { user: string; pass: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? undefined : { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}

// ---------------------------------------------------------------- Twilio's REST API (2010-04-01)

/** Twilio's error body: `{code, message, more_info, status}` with the HTTP status repeated. */
export const twilioError = (status: number, code: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

/** A refusal a Twilio fixture answers instead of accepting: the HTTP status and Twilio's error code. */
export interface TwilioRefusal {
  status: number;
  code: number;
  message?: string;
}

/**
 * Routing and credentials as Twilio checks them, before anything else: 404 for a path it does not
 * serve, 401 without the account's Basic credentials, 404 for another account's path. Answers the
 * matched path's tail (after `/Accounts/{Sid}`), or undefined once it has answered the refusal itself.
 */
export function twilioAccountRoute(
  req: IncomingMessage,
  res: ServerResponse,
  account: { accountSid: string; authToken: string },
  routes: Record<string, 'GET' | 'POST'>,
): string | undefined {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const m = /^\/2010-04-01\/Accounts\/([^/]+?)((?:\/[A-Za-z]+)?\.json)$/.exec(path);
  const notFound = () => sendJson(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
  if (!m || routes[m[2]] !== req.method) return void notFound();
  const auth = basicAuth(req);
  if (!auth || auth.user !== account.accountSid || auth.pass !== account.authToken) {
    return void sendJson(res, 401, twilioError(401, 20003, 'Authenticate'));
  }
  if (m[1] !== account.accountSid) return void notFound();
  return m[2];
}

/** Twilio's `date_created`-style timestamps (RFC 2822 in GMT). */
export const rfc2822 = (d = new Date()) => d.toUTCString().replace('GMT', '+0000');
