import { devInboxHint, done, expiryText, parseCommand, request } from './common.ts';
import type { CodeSentReply } from '../../contract/code-sent.ts';

/** `forgot-password EMAIL`: a reset code by email (the API answers the same for every address). */
export async function forgotPasswordCommand(argv: string[]): Promise<number> {
  const { args: [email], json } = parseCommand(argv, { positionals: ['EMAIL'] });
  const body = await request<CodeSentReply>(json, 'POST', '/api/v1/auth/forgot-password', { email });
  if (json) return done(json, body, []);
  return done(json, body, [
    `If ${email} has an account, a password reset code was emailed; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}.`,
    `Check your email, then run: panic-api reset-password ${email} CODE`,
    await devInboxHint(email),
  ]);
}
