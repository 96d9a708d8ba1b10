import assert from 'node:assert/strict';
import type { InboxRow } from '../../src/dev-inbox/routes.ts';
import type { Stack } from './stack.ts';
import { waitUntil } from './wait.ts';

/** Development with no provider configured: every message is captured into the dev inbox. */
export const DEV_ENV = {
  APP_ENV: 'development',
  SMTP_SERVER: '',
  SMTP_USERNAME: '',
  SMTP_PASSWORD: '',
  SMS_PROVIDER: '',
  SMS_API_URL: '',
  SMS_ACCOUNT_SID: '',
  SMS_API_KEY: '',
  SMS_FROM: '',
};

/** GET /dev/inbox/messages, optionally for one recipient. */
export const inbox = async (stack: Stack, to?: string): Promise<InboxRow[]> => {
  const res = await stack.request<{ messages: InboxRow[] }>(
    'GET',
    `/dev/inbox/messages${to === undefined ? '' : `?to=${encodeURIComponent(to)}`}`,
  );
  assert.equal(res.status, 200, res.text);
  return res.body.messages;
};

/** The captured message to `to` for `purpose`, once the worker has handled it. */
export const capturedFor = (stack: Stack, to: string, purpose: string) =>
  waitUntil(async () => (await inbox(stack, to)).find((m) => m.purpose === purpose && m.status === 'captured'), {
    timeoutMs: 10_000,
    what: `a captured ${purpose} message to ${to}`,
  });
