import { api, apiBaseUrl } from '../api-client.ts';
import { done, passwordFrom, succeeded, type JsonOption } from './common.ts';
import { sessionFrom, sessionPath, writeSession } from './session.ts';

/**
 * `reset-password EMAIL OTP [--password NEW]`: every other session of the account ends, and the reset
 * signs in: its session replaces the saved one.
 */
export async function resetPasswordCommand(
  email: string,
  otp: string,
  opts: JsonOption & { password?: string },
): Promise<number> {
  const new_password = await passwordFrom(opts.password, 'New password', '--password NEW', true);
  const body = await succeeded(
    opts.json,
    api().POST('/api/v1/auth/reset-password', { body: { email, otp, new_password } }),
  );
  const { message: _message, ...pair } = body;
  await writeSession(sessionFrom(pair, email, apiBaseUrl()));
  return done(opts.json, body, [
    `Password changed for ${email}. Every other session of the account was signed out; you are signed in here (${sessionPath()}).`,
    'Next: panic-api me (your account), panic-api logout.',
  ]);
}
