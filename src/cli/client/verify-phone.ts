import { devInboxHint, done, expiryText, parseCommand } from './common.ts';
import { authedRequest } from './session.ts';
import type { PhoneCodeSentReply } from '../../contract/code-sent.ts';

/** `verify-phone [--phone P]`: an SMS code to the account's phone, or to a new number. */
export async function verifyPhoneCommand(argv: string[]): Promise<number> {
  const { opts, json } = parseCommand(argv, { strings: ['phone'] });
  const { body, session } = await authedRequest<PhoneCodeSentReply>(json, 'POST', '/api/v1/users/verify-phone', () =>
    opts.phone === undefined ? {} : { phone: opts.phone },
  );
  if (json) return done(json, body, []);
  return done(json, body, [
    `A code was sent by SMS to ${body.phone}; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    'Check your phone, then run: panic-api verify-phone-otp CODE',
    await devInboxHint(body.phone, session.api_base_url),
  ]);
}
