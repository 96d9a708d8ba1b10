import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { waitForMessage } from './wait.ts';
import {
  basicAuth,
  closeServer,
  listen,
  readBody,
  sendJson,
  withCounts,
  type Counts,
  type WaitOpts,
} from './http-fixture.ts';

// ---------------------------------------------------------------- Twilio

export const TWILIO_TEST_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';

export interface TwilioMessage {
  to: string;
  from: string;
  body: string;
  sid: string;
  /** The StatusCallback the service asked for, if any. */
  statusCallback?: string;
}

export interface TwilioFailure {
  status: number;
  code?: number;
  message?: string;
}

/** The account as Twilio's GET …/Accounts/{Sid}.json describes it. */
export interface TwilioAccount {
  type: 'Trial' | 'Full';
  status: 'active' | 'suspended' | 'closed';
}

export interface TwilioFixture extends Counts {
  /** full URL of POST .../Accounts/{SID}/Messages.json */
  messagesUrl: string;
  /** full URL of GET .../Accounts/{SID}.json */
  accountUrl: string;
  accountSid: string;
  authToken: string;
  messages: TwilioMessage[];
  /** may be changed at any time, e.g. to fail first and recover later */
  failWith: TwilioFailure | undefined;
  /** what the account GET answers; may be changed at any time */
  account: TwilioAccount;
  waitFor(to: string, opts?: WaitOpts): Promise<TwilioMessage>;
  close(): Promise<void>;
}

const twilioError = (status: number, code: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

const DEFAULT_FAILURES: Record<number, [number, string]> = {
  400: [21211, "The 'To' number is not a valid phone number."],
  429: [20429, 'Too Many Requests'],
  500: [20500, 'An internal server error has occurred'],
  503: [20503, 'Service unavailable'],
};

export interface TwilioOptions {
  accountSid?: string;
  authToken?: string;
  failWith?: TwilioFailure;
  /** Awaited after a valid message arrived and before it is accepted: holds a send in flight. */
  beforeAccept?: (message: Omit<TwilioMessage, 'sid'>) => Promise<void>;
}

export async function startTwilioServer(opts: TwilioOptions = {}): Promise<TwilioFixture> {
  const { accountSid = TWILIO_TEST_ACCOUNT_SID, authToken = 'twilio-test-token' } = opts;
  const messages: TwilioMessage[] = [];

  const { server, base, counts } = await listen(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/2010-04-01\/Accounts\/([^/]+?)(\/Messages)?\.json$/.exec(path);
    const isMessages = m?.[2] !== undefined && req.method === 'POST';
    const isAccount = m?.[2] === undefined && req.method === 'GET';
    if (!m || (!isMessages && !isAccount)) {
      return sendJson(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
    }
    const auth = basicAuth(req);
    if (!auth || auth.user !== accountSid || auth.pass !== authToken) {
      return sendJson(res, 401, twilioError(401, 20003, 'Authenticate'));
    }
    if (m[1] !== accountSid) {
      return sendJson(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
    }
    if (isAccount) {
      const { type, status } = fixture.account;
      return sendJson(res, 200, {
        sid: accountSid,
        owner_account_sid: accountSid,
        friendly_name: 'test',
        status,
        type,
        uri: `/2010-04-01/Accounts/${accountSid}.json`,
      });
    }

    // Auth and routing are checked first so a misconfigured client still gets 401/404.
    const fail = fixture.failWith;
    if (fail) {
      const [code, message] = DEFAULT_FAILURES[fail.status] ?? [20000 + fail.status, `HTTP ${fail.status}`];
      return sendJson(res, fail.status, twilioError(fail.status, fail.code ?? code, fail.message ?? message));
    }
    // A non-form content type leaves the parameters empty, as on Twilio.
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const form = new URLSearchParams(isForm ? await readBody(req) : '');
    const to = form.get('To');
    const body = form.get('Body');
    const from = form.get('From') ?? form.get('MessagingServiceSid');
    if (!to) return sendJson(res, 400, { code: 21604, message: "A 'To' phone number is required.", status: 400 });
    if (!body) return sendJson(res, 400, { code: 21602, message: 'Message body is required.', status: 400 });
    if (!from) return sendJson(res, 400, { code: 21603, message: "A 'From' phone number is required.", status: 400 });
    await opts.beforeAccept?.({ to, from, body });
    const sid = 'SM' + randomBytes(16).toString('hex');
    const statusCallback = form.get('StatusCallback');
    messages.push({ to, from, body, sid, ...(statusCallback === null ? {} : { statusCallback }) });
    sendJson(res, 201, {
      sid,
      account_sid: accountSid,
      status: 'queued',
      to,
      from,
      body,
      num_segments: '1',
      direction: 'outbound-api',
      date_created: new Date().toUTCString(),
      error_code: null,
      error_message: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    });
  });

  const fixture = withCounts<TwilioFixture>(
    {
      messagesUrl: `${base}/2010-04-01/Accounts/${accountSid}/Messages.json`,
      accountUrl: `${base}/2010-04-01/Accounts/${accountSid}.json`,
      accountSid,
      authToken,
      messages,
      failWith: opts.failWith,
      account: { type: 'Full', status: 'active' },
      waitFor: (to, o) => waitForMessage(messages, (m) => m.to === to, `Twilio SMS to ${to}`, o),
      close: () => closeServer(server),
    },
    counts,
  );
  return fixture;
}

// ---------------------------------------------------------------- generic HTTP SMS provider

export interface HttpSmsMessage {
  to: string;
  body: string;
  id: string;
}

export interface HttpSmsFixture extends Counts {
  /** full URL of POST /send */
  url: string;
  apiKey: string;
  messages: HttpSmsMessage[];
  failWith: { status: number; message?: string } | undefined;
  waitFor(to: string, opts?: WaitOpts): Promise<HttpSmsMessage>;
  close(): Promise<void>;
}

export async function startHttpSmsServer(
  opts: { apiKey?: string; failWith?: { status: number; message?: string } } = {},
): Promise<HttpSmsFixture> {
  const { apiKey = 'sms-test-key' } = opts;
  const messages: HttpSmsMessage[] = [];

  const { server, base, counts } = await listen(async (req, res) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/send') {
      return sendJson(res, 404, { error: 'not found' });
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) return sendJson(res, 401, { error: 'unauthorized' });
    const fail = fixture.failWith;
    if (fail) return sendJson(res, fail.status, { error: fail.message ?? `HTTP ${fail.status}` });
    let payload: unknown;
    try {
      payload = JSON.parse(await readBody(req));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    const { to, body } = (payload ?? {}) as { to?: unknown; body?: unknown };
    if (typeof to !== 'string' || !to || typeof body !== 'string' || !body) {
      return sendJson(res, 400, { error: 'to and body are required' });
    }
    const id = randomBytes(12).toString('hex');
    messages.push({ to, body, id });
    sendJson(res, 200, { id });
  });

  const fixture = withCounts<HttpSmsFixture>(
    {
      url: `${base}/send`,
      apiKey,
      messages,
      failWith: opts.failWith,
      waitFor: (to, o) => waitForMessage(messages, (m) => m.to === to, `HTTP SMS to ${to}`, o),
      close: () => closeServer(server),
    },
    counts,
  );
  return fixture;
}
