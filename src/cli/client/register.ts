import { devInboxHint, done, expiryText, parseCommand, request } from './common.ts';
import type { RegisterReply } from '../../contract/code-sent.ts';

/** `register EMAIL PHONE FIRST LAST [--password P]`: /auth/register, or the alias when there is no password. */
export async function registerCommand(argv: string[]): Promise<number> {
  const { args, opts, json } = parseCommand(argv, { positionals: ['EMAIL', 'PHONE', 'FIRST', 'LAST'], strings: ['password'] });
  const [email, phone, first_name, last_name] = args;
  const password = opts.password;
  const path = password === undefined ? '/api/v1/users/register' : '/api/v1/auth/register';
  const body = await request<RegisterReply>(json, 'POST', path, { email, phone, first_name, last_name, ...(password === undefined ? {} : { password }) });
  if (json) return done(json, body, []);
  const user = body.user;
  return done(json, body, [
    `Account created for ${user.email} (phone ${user.phone}).`,
    `A verification code was emailed to ${user.email}; it expires ${expiryText(body.verification.expires_at, body.verification.expires_in_minutes)}.`,
    password === undefined ? `No password was set: to log in later, set one with: panic-api forgot-password ${user.email}` : undefined,
    `Check your email, then run: panic-api verify ${user.email} CODE`,
    await devInboxHint(user.email),
  ]);
}
