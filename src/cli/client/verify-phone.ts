import { devInboxHint, done, expiryText, type JsonOption } from './common.ts';
import { authedRequest } from './session.ts';

/** `verify-phone [--phone P]`: an SMS code to the account's phone, or to a new number. */
export async function verifyPhoneCommand({ json, phone }: JsonOption & { phone?: string }): Promise<number> {
  const { body, session } = await authedRequest(json, (client) =>
    client.POST('/api/v1/users/verify-phone', { body: phone === undefined ? {} : { phone } }),
  );
  if (json) return done(json, body, []);
  return done(json, body, [
    `A code was sent by SMS to ${body.phone}; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    'Check your phone, then run: panic-api verify-phone-otp CODE',
    await devInboxHint(body.phone, session.api_base_url),
  ]);
}
