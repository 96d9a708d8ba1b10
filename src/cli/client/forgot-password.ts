import { api } from '../api-client.ts';
import { devInboxHint, done, expiryText, succeeded, type JsonOption } from './common.ts';

/** `forgot-password EMAIL`: a reset code by email (the API answers the same for every address). */
export async function forgotPasswordCommand(email: string, { json }: JsonOption): Promise<number> {
  const body = await succeeded(json, api().POST('/api/v1/auth/forgot-password', { body: { email } }));
  if (json) return done(json, body, []);
  return done(json, body, [
    `If ${email} has an account, a password reset code was emailed; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    `Check your email, then run: panic-api reset-password ${email} CODE`,
    await devInboxHint(email),
  ]);
}
