import { api } from '../api-client.ts';
import { devInboxHint, done, expiryText, succeeded, type JsonOption } from './common.ts';

/** `register EMAIL PHONE FIRST LAST [--password P]`: /auth/register, or the alias when there is no password. */
export async function registerCommand(
  email: string,
  phone: string,
  first_name: string,
  last_name: string,
  { json, password }: JsonOption & { password?: string },
): Promise<number> {
  const person = { email, phone, first_name, last_name };
  const body = await succeeded(
    json,
    password === undefined
      ? api().POST('/api/v1/users/register', { body: person })
      : api().POST('/api/v1/auth/register', { body: { ...person, password } }),
  );
  if (json) return done(json, body, []);
  const user = body.user;
  return done(json, body, [
    `Account created for ${user.email} (phone ${user.phone}).`,
    `A verification code was emailed to ${user.email}; it expires ${expiryText(body.verification.expires_at, body.verification.expires_in_minutes)}.`,
    password === undefined
      ? `No password was set: sign in with a code (panic-api login ${user.email} --code), or set one with: panic-api forgot-password ${user.email}`
      : undefined,
    `Check your email, then run: panic-api verify ${user.email} CODE`,
    await devInboxHint(user.email),
  ]);
}
