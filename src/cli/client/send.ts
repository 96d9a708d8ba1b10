import { api } from '../api-client.ts';
import { devInboxHint, done, expiryText, succeeded, type JsonOption } from './common.ts';

/** `send EMAIL`: a new email verification code (the API answers the same for every address). */
export async function sendCommand(email: string, { json }: JsonOption): Promise<number> {
  const body = await succeeded(json, api().POST('/api/v1/auth/resend-verification', { body: { email } }));
  if (json) return done(json, body, []);
  return done(json, body, [
    `If ${email} has an account that is not verified yet, a new code was emailed; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    'Any earlier code no longer works.',
    `Check your email, then run: panic-api verify ${email} CODE`,
    await devInboxHint(email),
  ]);
}
