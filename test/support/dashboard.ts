/**
 * deploy/grafana/panic-api.json against a real Prometheus (test/dashboard-prometheus.test.ts, and
 * scripts/dashboard-preview.ts, which draws it): the service with every road its panels watch (SMS
 * with a second provider, WhatsApp after it, receipts, a webhook endpoint), waves of traffic through
 * it, and every panel's queries as Grafana would send them.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TWILIO_STATUS_PATH } from '../../src/delivery/channels/twilio.ts';
import { expectStatus } from './api.ts';
import { messagesTo } from './outbox-rows.ts';
import { postSigned } from './receipts.ts';
import type { Prometheus, QueryAnswer, ScrapeTarget, Series, Window } from './prometheus.ts';
import { type HttpSmsFixture, startHttpSmsServer } from './sms.ts';
import { codeIn, phoneCodeAsked, registered, type Stack, startStack, wrongCode } from './stack.ts';
import { postTwilioStatus } from './twilio-status.ts';
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';
import {
  startTwilioWhatsAppServer,
  twilioWhatsAppEnv,
  type TwilioWhatsAppFixture,
  whatsAppStatusFields,
} from './whatsapp.ts';
import { waitUntil } from './wait.ts';

const DASHBOARD_FILE = fileURLToPath(new URL('../../deploy/grafana/panic-api.json', import.meta.url));

export interface Target {
  expr: string;
  refId: string;
  legendFormat?: string;
  /** Grafana asks for the value at the end of the range only. */
  instant?: boolean;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  fieldConfig?: { defaults?: Record<string, unknown> & { custom?: Record<string, unknown> } };
  options?: Record<string, unknown>;
}

export interface Dashboard {
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; label?: string; includeAll?: boolean; allValue?: string }> };
}

export const readDashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));

/**
 * Grafana's $__rate_interval: max(4 × the data source's scrape interval, $__interval + that interval).
 * A Prometheus data source keeps Grafana's default of 15 s unless told otherwise, and over a range of
 * minutes $__interval is a few seconds: 1m.
 */
export const RATE_INTERVAL = '1m';

/** The values picked for the dashboard's variables, by name; a variable left out is at "All". */
export type Picked = Record<string, string[]>;

const regexEscape = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * An expression as Grafana sends it: a variable at "All" as its `allValue` (a regex matching every
 * value), one value picked as itself, several as `(a|b)`; $__rate_interval as above, $__range and
 * $__interval from the window. A variable the dashboard does not define throws: a new one must be
 * given a value here, not sent as `$name`.
 */
export function grafanaExpr(dashboard: Dashboard, expr: string, window: Window, picked: Picked = {}): string {
  const values = new Map<string, string>([
    ['__rate_interval', RATE_INTERVAL],
    ['__range', `${Math.round(window.end - window.start)}s`],
    ['__interval', `${window.step}s`],
  ]);
  for (const v of dashboard.templating.list) {
    const chosen = (picked[v.name] ?? []).map(regexEscape);
    if (chosen.length) values.set(v.name, chosen.length === 1 ? chosen[0] : `(${chosen.join('|')})`);
    else if (v.includeAll && v.allValue !== undefined) values.set(v.name, v.allValue);
    else throw new Error(`variable ${v.name} has no "All" value to send`);
  }
  return expr.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    const value = values.get(name);
    if (value === undefined) throw new Error(`the dashboard's query uses $${name}, which has no value: ${expr}`);
    return value;
  });
}

/** A series' name as Grafana's legend shows it: the target's legendFormat with each {{label}} filled in, else its labels. */
export function legendOf(target: Target, metric: Record<string, string>): string {
  if (target.legendFormat)
    return target.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l: string) => metric[l] ?? '');
  const labels = Object.entries(metric).filter(([k]) => k !== '__name__');
  return `${metric.__name__ ?? ''}{${labels.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

export interface TargetResult {
  target: Target;
  /** The query sent. */
  expr: string;
  answer: QueryAnswer;
}

export interface PanelResult {
  panel: Panel;
  targets: TargetResult[];
}

/** A series has data when one of its samples is a number (a ratio of nothing is NaN, which Grafana leaves blank). */
const seriesHasData = (s: Series): boolean => s.values.some(([, v]) => Number.isFinite(v));
export const targetHasData = (t: TargetResult): boolean => (t.answer.series ?? []).some(seriesHasData);

/** Every panel with queries (rows have none), each query sent as Grafana would: over the window, or at its end when instant. */
export async function evaluateDashboard(
  prometheus: Prometheus,
  dashboard: Dashboard,
  window: Window,
  picked: Picked = {},
): Promise<PanelResult[]> {
  return Promise.all(
    dashboard.panels
      .filter((p) => p.targets?.length)
      .map(async (panel) => ({
        panel,
        targets: await Promise.all(
          panel.targets!.map(async (target) => {
            const expr = grafanaExpr(dashboard, target.expr, window, picked);
            const answer = target.instant
              ? await prometheus.query(expr, window.end)
              : await prometheus.queryRange(expr, window);
            return { target, expr, answer };
          }),
        ),
      })),
  );
}

// ---------------------------------------------------------------- the service and its traffic

const ADMIN_TOKEN = 'dashboard-admin-token-0123456789abcdef';
const PUBLIC_URL = 'https://panic.dashboard.test';
const WHATSAPP_FROM = '+14155238886';
const SMS_WEBHOOK_SECRET = 'dashboard-sms-receipts-secret-0123456789';
const SMS_RECEIPT_PATH = '/api/v1/webhooks/sms/status';

export interface DashboardService {
  stack: Stack;
  /** The second SMS provider (a generic HTTP one): the breaker's other side. */
  fallback: HttpSmsFixture;
  whatsapp: TwilioWhatsAppFixture;
  webhooks: WebhookReceiver;
  /** Where Prometheus scrapes it. */
  target: ScrapeTarget;
  close(): Promise<void>;
}

/**
 * The service as an operator runs it, so that every panel has something to read: SMS through Twilio
 * with a second provider (hence breakers), WhatsApp as the next channel of a phone code, receipts
 * (PUBLIC_URL), a webhook endpoint, and /metrics behind the admin token.
 */
export async function startDashboardService(): Promise<DashboardService> {
  const secret = newWebhookSecret();
  const [fallback, whatsapp, webhooks] = await Promise.all([
    startHttpSmsServer(),
    startTwilioWhatsAppServer({ senders: [`whatsapp:${WHATSAPP_FROM}`] }),
    startWebhookReceiver(secret),
  ]);
  const fixtures = () => Promise.all([fallback.close(), whatsapp.close(), webhooks.close()]);
  let stack: Stack;
  try {
    stack = await startStack({
      env: {
        ADMIN_TOKEN,
        PUBLIC_URL,
        SMS_FALLBACK_PROVIDER: 'http',
        SMS_FALLBACK_API_URL: fallback.url,
        SMS_FALLBACK_API_KEY: fallback.apiKey,
        SMS_WEBHOOK_SECRET,
        // the SMS fixture and this one share Twilio's test account, as one customer's SMS and WhatsApp do
        ...twilioWhatsAppEnv(whatsapp, WHATSAPP_FROM),
        PHONE_CHANNELS: 'sms,whatsapp',
        // a code whose SMS has no receipt yet waits for it rather than moving on during a short run
        PHONE_FALLBACK_AFTER_SECONDS: '3600',
        WEBHOOK_URLS: webhooks.url,
        WEBHOOK_SECRET: secret,
      },
    });
  } catch (err) {
    await fixtures();
    throw err;
  }
  return {
    stack,
    fallback,
    whatsapp,
    webhooks,
    target: { address: new URL(stack.baseUrl).host, token: ADMIN_TOKEN },
    async close() {
      await stack.close();
      await fixtures();
    },
  };
}

/** Twilio's signed StatusCallback, posted as Twilio posts it to the URL the service gave. */
async function twilioReceipt(s: DashboardService, fields: Record<string, string>): Promise<void> {
  const res = await postTwilioStatus(`${PUBLIC_URL}${TWILIO_STATUS_PATH}`, fields, s.stack.sms.authToken, {
    postTo: `${s.stack.baseUrl}${TWILIO_STATUS_PATH}`,
  });
  if (res.status !== 200) throw new Error(`Twilio's receipt answered ${res.status}: ${await res.text()}`);
}

/** The message to `phone` on `channel` once a provider took it: the service has recorded the provider's id. */
const sentOn = (s: DashboardService, phone: string, channel: 'sms' | 'whatsapp') =>
  waitUntil(async () => (await messagesTo(s.stack, phone)).find((m) => m.channel === channel && m.status === 'sent'), {
    what: `the ${channel} message to ${phone} sent`,
  });

/**
 * The SMS to `phone` once a provider took it: its code, and the receipt that provider sends (Twilio's,
 * or the generic provider's while Twilio's breaker is open).
 */
async function takenSms(s: DashboardService, phone: string) {
  const row = await sentOn(s, phone, 'sms');
  const byTwilio = s.stack.sms.messages.find((m) => m.sid === row.provider_id);
  const byFallback = s.fallback.messages.find((m) => m.id === row.provider_id);
  if (!byTwilio && !byFallback) throw new Error(`no provider has the SMS ${row.provider_id} to ${phone}`);
  return {
    code: codeIn((byTwilio ?? byFallback)!.body),
    async receipt(status: 'delivered' | 'undelivered', errorCode?: string): Promise<void> {
      const error: Record<string, string> = errorCode ? { ErrorCode: errorCode } : {};
      if (byTwilio) return twilioReceipt(s, { MessageSid: byTwilio.sid, MessageStatus: status, ...error });
      const body = JSON.stringify({ id: byFallback!.id, status, error_code: errorCode });
      expectStatus(await postSigned(s.stack, SMS_RECEIPT_PATH, body, SMS_WEBHOOK_SECRET), 200);
    },
  };
}

/** The code of the WhatsApp message to `phone`, once it has gone out and its receipt said delivered. */
async function deliveredWhatsApp(s: DashboardService, phone: string): Promise<string> {
  const message = await s.whatsapp.waitFor(`whatsapp:${phone}`);
  await sentOn(s, phone, 'whatsapp');
  await twilioReceipt(s, whatsAppStatusFields(message, s.whatsapp.accountSid, 'delivered'));
  return message.contentVariables!['1'];
}

const verifyPhone = async (s: DashboardService, token: string, otp: string, status: 200 | 400) =>
  expectStatus(await s.stack.api('POST', '/api/v1/users/verify-otp', { otp }, token), status);

/**
 * One wave of a day's traffic, in a few seconds: sign-ups (one with a wrong code first, one that never
 * verifies), a password reset; phone codes by SMS delivered, undelivered and moved on to WhatsApp, and
 * refused as an invalid number and moved on; answers of 400, 401 and 404. With `openBreaker`, Twilio
 * answers 500 to three SMS in a row: the fallback sends them and Twilio's breaker opens for 60 s, in
 * which the waves' SMS go by the fallback (and its receipts).
 */
export async function trafficWave(s: DashboardService, opts: { openBreaker?: boolean } = {}): Promise<void> {
  const { stack } = s;
  // email: a sign-up with a wrong code first, a password reset, a sign-up never verified
  const { p, code } = await registered(stack, 'dashboard');
  expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: wrongCode(code) }), 400);
  expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }), 200);
  expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
  const reset = { email: p.email, otp: await stack.emailCode(p.email, 2), new_password: 'a brand new secret' };
  expectStatus(await stack.api('POST', '/api/v1/auth/reset-password', reset), 200);
  await registered(stack, 'dashboard-idle');

  // a phone code by SMS, delivered, verified after one wrong try
  {
    const { person, tokens } = await phoneCodeAsked(stack, 'dashboard-sms');
    const sms = await takenSms(s, person.phone);
    await sms.receipt('delivered');
    await verifyPhone(s, tokens.access_token, wrongCode(sms.code), 400);
    await verifyPhone(s, tokens.access_token, sms.code, 200);
  }
  // an SMS the carrier could not deliver (30007, filtered): the code goes by WhatsApp, delivered, verified
  {
    const { person, tokens } = await phoneCodeAsked(stack, 'dashboard-moved');
    await (await takenSms(s, person.phone)).receipt('undelivered', '30007');
    await verifyPhone(s, tokens.access_token, await deliveredWhatsApp(s, person.phone), 200);
  }
  // the SMS providers refuse the number (Twilio's 21211; the generic one's 400 while Twilio's breaker is
  // open): the code goes by WhatsApp, and is never entered
  stack.sms.failWith = { status: 400, code: 21211 };
  s.fallback.failWith = { status: 400, message: 'not a valid phone number' };
  try {
    const { person } = await phoneCodeAsked(stack, 'dashboard-refused');
    await deliveredWhatsApp(s, person.phone);
  } finally {
    stack.sms.failWith = undefined;
    s.fallback.failWith = undefined;
  }

  // what a client gets wrong: a wrong password, a body without its fields, a message that is not there, a page no route has
  expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: 'not the password' }), 401);
  expectStatus(await stack.request('POST', '/api/v1/auth/register', {}), 400);
  expectStatus(await stack.api('GET', `/api/v1/admin/messages/${randomUUID()}`, undefined, ADMIN_TOKEN), 404);
  expectStatus(await stack.request('GET', '/no/such/page'), 404);

  if (opts.openBreaker) {
    stack.sms.failWith = { status: 500 };
    try {
      for (let i = 0; i < 3; i++) {
        const { person } = await phoneCodeAsked(stack, 'dashboard-breaker');
        await s.fallback.waitFor(person.phone);
      }
    } finally {
      stack.sms.failWith = undefined;
    }
  }
}
