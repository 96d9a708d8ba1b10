import { devInboxHint, done, expiryText, parseCommand, request } from './common.ts';
import type { CodeSentReply } from '../../contract/code-sent.ts';

/** `send EMAIL`: a new email verification code (the API answers the same for every address). */
export async function sendCommand(argv: string[]): Promise<number> {
  const { args: [email], json } = parseCommand(argv, { positionals: ['EMAIL'] });
  const body = await request<CodeSentReply>(json, 'POST', '/api/v1/auth/resend-verification', { email });
  if (json) return done(json, body, []);
  return done(json, body, [
    `If ${email} has an account that is not verified yet, a new code was emailed; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    'Any earlier code no longer works.',
    `Check your email, then run: panic-api verify ${email} CODE`,
    await devInboxHint(email),
  ]);
}
