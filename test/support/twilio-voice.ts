/**
 * Twilio's Calls API as a local server (docs/providers-issue-20.md has the sources): POST
 * …/Accounts/{Sid}/Calls.json with Basic auth and a form, answered 201 with a `queued` Call resource or
 * 400 with Twilio's error body; GET …/IncomingPhoneNumbers.json for the numbers the account owns.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  closeServer,
  type Counts,
  listen,
  readForm,
  rfc2822,
  sendJson,
  type TwilioRefusal,
  twilioAccountRoute,
  twilioError,
  type WaitOpts,
  withCounts,
} from './http-fixture.ts';
import { TWILIO_TEST_ACCOUNT_SID } from './sms.ts';
import { waitForMessage } from './wait.ts';

export interface TwilioCall {
  sid: string;
  to: string;
  from: string;
  /** The inline TwiML the call would run. */
  twiml?: string;
  url?: string;
  statusCallback?: string;
  /** Every `StatusCallbackEvent` sent (the parameter repeats, one event each); Twilio sends only `completed` without one. */
  statusCallbackEvents: string[];
  statusCallbackMethod?: string;
  timeout?: number;
  machineDetection?: string;
  /** Every field as sent, the last value of a repeated one. */
  form: Record<string, string>;
}

/** A number of the account, as GET …/IncomingPhoneNumbers.json lists it. */
export interface TwilioIncomingNumber {
  phoneNumber: string;
  capabilities: { voice: boolean; sms: boolean; mms: boolean; fax: boolean };
}

export interface TwilioVoiceFixture extends Counts {
  /** full URL of POST …/Accounts/{Sid}/Calls.json */
  callsUrl: string;
  /** full URL of GET …/Accounts/{Sid}/IncomingPhoneNumbers.json */
  numbersUrl: string;
  accountSid: string;
  authToken: string;
  calls: TwilioCall[];
  /** Every valid call is refused with this; may be changed at any time. */
  failWith: TwilioRefusal | undefined;
  /** Calls to these numbers (E.164 `To`) are refused with their refusal, e.g. 21215 for a country not allowed. */
  refuse: Map<string, TwilioRefusal>;
  /** What GET …/IncomingPhoneNumbers.json knows; may be changed at any time. */
  numbers: TwilioIncomingNumber[];
  waitFor(to: string, opts?: WaitOpts): Promise<TwilioCall>;
  close(): Promise<void>;
}

/** The messages Twilio answers with for the refusals a call can meet (docs/providers-issue-20.md). */
const VOICE_REFUSALS: Record<number, (to: string, from: string) => string> = {
  21210: (_to, from) =>
    `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`,
  21211: (to) => `The 'To' number ${to} is not a valid phone number.`,
  21215: (to) =>
    `Account not authorized to call ${to}. Perhaps you need to enable some international permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk`,
  21216: (to) => `Account not allowed to call ${to}`,
  20429: () => 'Too Many Requests',
  20500: () => 'An internal server error has occurred',
  20503: () => 'Service unavailable',
};

/** Twilio's documented bound on the inline `Twiml` parameter. */
const TWIML_MAX_CHARS = 4000;

export interface TwilioVoiceOptions {
  accountSid?: string;
  authToken?: string;
  failWith?: TwilioRefusal;
  numbers?: TwilioIncomingNumber[];
}

export async function startTwilioVoiceServer(opts: TwilioVoiceOptions = {}): Promise<TwilioVoiceFixture> {
  const { accountSid = TWILIO_TEST_ACCOUNT_SID, authToken = 'twilio-test-token' } = opts;
  const calls: TwilioCall[] = [];
  const accountPath = `/2010-04-01/Accounts/${accountSid}`;

  const { server, base, counts } = await listen(async (req, res) => {
    const route = twilioAccountRoute(
      req,
      res,
      { accountSid, authToken },
      { '/Calls.json': 'POST', '/IncomingPhoneNumbers.json': 'GET' },
    );
    if (route === '/IncomingPhoneNumbers.json') return listNumbers(new URL(req.url ?? '/', 'http://x'), res);
    if (route !== '/Calls.json') return;

    const form = await readForm(req);
    const to = form.get('To');
    const from = form.get('From');
    const twiml = form.get('Twiml') ?? undefined;
    const url = form.get('Url') ?? undefined;
    if (!to) return sendJson(res, 400, twilioError(400, 21201, "No 'To' number is specified"));
    if (!from) return sendJson(res, 400, twilioError(400, 21213, "No 'From' number is specified"));
    if (url !== undefined && !URL.canParse(url)) {
      return sendJson(res, 400, twilioError(400, 21205, `Url is not a valid URL: ${url}`));
    }
    // The code Twilio gives these two refusals is not documented where we looked: 21200 is its Calls resource family.
    if (twiml === undefined && url === undefined && !form.get('ApplicationSid')) {
      return sendJson(res, 400, twilioError(400, 21200, 'Either Url, Twiml or ApplicationSid is required'));
    }
    if (twiml !== undefined && twiml.length > TWIML_MAX_CHARS) {
      return sendJson(res, 400, twilioError(400, 21200, `Twiml is longer than ${TWIML_MAX_CHARS} characters`));
    }
    const refusal = fixture.refuse.get(to) ?? fixture.failWith;
    if (refusal) {
      const message = refusal.message ?? VOICE_REFUSALS[refusal.code]?.(to, from) ?? `Error ${refusal.code}`;
      return sendJson(res, refusal.status, twilioError(refusal.status, refusal.code, message));
    }

    const sid = `CA${randomBytes(16).toString('hex')}`;
    const optional = (name: string) => form.get(name) ?? undefined;
    const timeout = optional('Timeout');
    calls.push({
      sid,
      to,
      from,
      twiml,
      url,
      statusCallback: optional('StatusCallback'),
      statusCallbackEvents: form.getAll('StatusCallbackEvent').flatMap((e) => e.split(' ')),
      statusCallbackMethod: optional('StatusCallbackMethod'),
      timeout: timeout === undefined ? undefined : Number(timeout),
      machineDetection: optional('MachineDetection'),
      form: Object.fromEntries(form),
    });
    const now = rfc2822();
    sendJson(res, 201, {
      sid,
      account_sid: accountSid,
      parent_call_sid: null,
      to,
      to_formatted: to,
      from,
      from_formatted: from,
      phone_number_sid: null,
      status: 'queued',
      start_time: null,
      end_time: null,
      duration: null,
      price: null,
      price_unit: 'USD',
      direction: 'outbound-api',
      answered_by: null,
      api_version: '2010-04-01',
      forwarded_from: null,
      group_sid: null,
      caller_name: null,
      queue_time: '0',
      trunk_sid: null,
      date_created: now,
      date_updated: now,
      uri: `${accountPath}/Calls/${sid}.json`,
      subresource_uris: {
        notifications: `${accountPath}/Calls/${sid}/Notifications.json`,
        recordings: `${accountPath}/Calls/${sid}/Recordings.json`,
      },
    });
  });

  function listNumbers(url: URL, res: ServerResponse): void {
    const wanted = url.searchParams.get('PhoneNumber');
    const found = fixture.numbers.filter((n) => wanted === null || n.phoneNumber === wanted);
    const uri = `${accountPath}/IncomingPhoneNumbers.json${url.search}`;
    sendJson(res, 200, {
      incoming_phone_numbers: found.map((n) => ({
        sid: `PN${createHash('md5').update(n.phoneNumber).digest('hex')}`,
        account_sid: accountSid,
        phone_number: n.phoneNumber,
        friendly_name: n.phoneNumber,
        capabilities: n.capabilities,
        status: 'in-use',
        api_version: '2010-04-01',
      })),
      page: 0,
      page_size: 50,
      start: 0,
      end: Math.max(0, found.length - 1),
      uri,
      first_page_uri: uri,
      next_page_uri: null,
      previous_page_uri: null,
    });
  }

  const fixture = withCounts<TwilioVoiceFixture>(
    {
      callsUrl: `${base}${accountPath}/Calls.json`,
      numbersUrl: `${base}${accountPath}/IncomingPhoneNumbers.json`,
      accountSid,
      authToken,
      calls,
      failWith: opts.failWith,
      refuse: new Map(),
      numbers: opts.numbers ?? [],
      waitFor: (to, o) => waitForMessage(calls, (c) => c.to === to, `Twilio call to ${to}`, o),
      close: () => closeServer(server),
    },
    counts,
  );
  return fixture;
}

/** How a call ended, as the `completed` status callback reports it (`CallStatus`). */
export type CallEnd = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

/**
 * The form of a call's status callback (`CallbackSource=call-progress-events`) for the progress it
 * reports: `initiated`, `ringing`, `in-progress` (the `answered` event) or how the call ended. Post it with
 * twilio-status.ts's postTwilioStatus.
 */
export function callStatusFields(
  call: TwilioCall,
  accountSid: string,
  callStatus: 'initiated' | 'ringing' | 'in-progress' | CallEnd,
  extra: { sequenceNumber?: number; callDuration?: number; sipResponseCode?: number; answeredBy?: string } = {},
): Record<string, string> {
  const fields: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: call.sid,
    CallStatus: callStatus,
    CallbackSource: 'call-progress-events',
    Called: call.to,
    Caller: call.from,
    Direction: 'outbound-api',
    From: call.from,
    SequenceNumber: String(extra.sequenceNumber ?? 0),
    Timestamp: rfc2822(),
    To: call.to,
  };
  if (callStatus === 'completed') fields.CallDuration = String(extra.callDuration ?? 12);
  if (extra.sipResponseCode !== undefined) fields.SipResponseCode = String(extra.sipResponseCode);
  if (extra.answeredBy !== undefined) fields.AnsweredBy = extra.answeredBy;
  return fields;
}
