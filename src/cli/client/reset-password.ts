import { api, apiBaseUrl } from '../api-client.ts';
import { done, passwordFrom, succeeded, type JsonOption } from './common.ts';
import { deleteSession, readSession } from './session.ts';

/** `reset-password EMAIL OTP [--password NEW]`: every session of the account ends, the saved one too. */
export async function resetPasswordCommand(email: string, otp: string, opts: JsonOption & { password?: string }): Promise<number> {
  const new_password = await passwordFrom(opts.password, 'New password', '--password NEW', true);
  const body = await succeeded(opts.json, api().POST('/api/v1/auth/reset-password', { body: { email, otp, new_password } }));
  // The server has just revoked every session of this account: a saved one for it is dead.
  const saved = await readSession().catch(() => undefined);
  const dropped = saved !== undefined && saved.api_base_url === apiBaseUrl() && saved.email.toLowerCase() === email.toLowerCase();
  if (dropped) await deleteSession();
  return done(opts.json, body, [
    `Password changed for ${email}. Every session of the account was signed out${dropped ? ', the saved one here too' : ''}.`,
    `Log in with the new password: panic-api login ${email}`,
  ]);
}
