import { setTimeout as sleep } from 'node:timers/promises';
import { devInboxHint, done, expiryText, proofFrom, type JsonOption } from './common.ts';
import { api } from '../api-client.ts';
import type { Session } from './session.ts';
import { authedRequest } from './session.ts';

/** How long `verify-phone` watches the message before it leaves the person with the latest word. */
const WATCH_MS = 5000;
const POLL_MS = 500;

export interface VerifyPhoneOptions extends JsonOption {
  phone?: string;
  password?: string;
  otp?: string;
}

/**
 * `verify-phone [--phone P] [--password P | --otp CODE]`: an SMS code to the account's phone, or to a
 * new number. A verified phone moves only with proof: without one given, at a terminal the password is
 * asked when the server answers proof_required, and the ask sent once more with it.
 */
export async function verifyPhoneCommand({ json, phone, ...opts }: VerifyPhoneOptions): Promise<number> {
  const given = opts.password === undefined && opts.otp === undefined ? undefined : await proofFrom(opts);
  const { body, session } = await authedRequest(json, async (client) => {
    const ask = (proof?: Awaited<ReturnType<typeof proofFrom>>) =>
      client.POST('/api/v1/users/verify-phone', { body: { ...(phone === undefined ? {} : { phone }), ...proof } });
    const first = await ask(given);
    if (given || first.error?.error.code !== 'proof_required' || !process.stdin.isTTY) return first;
    return ask(await proofFrom({}));
  });
  if (json) return done(json, body, []);
  const status = await watch(session);
  return done(json, body, [
    `A code was sent by SMS to ${body.phone}; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    status && `Delivery: ${status.status}. ${status.hint}`,
    'Check your phone, then run: panic-api verify-phone-otp CODE',
    await devInboxHint(body.phone, session.api_base_url),
  ]);
}

/** The message's state once it leaves the queue, or after WATCH_MS; nothing if the server cannot say (an older server). */
async function watch(session: Session) {
  const client = api({ baseUrl: session.api_base_url, token: session.access_token });
  const deadline = Date.now() + WATCH_MS;
  for (;;) {
    const { data } = await client.GET('/api/v1/users/verify-phone/status').catch(() => ({ data: undefined }));
    if (!data || data.status !== 'queued' || Date.now() >= deadline) return data;
    await sleep(POLL_MS);
  }
}
