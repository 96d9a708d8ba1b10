import { api, apiBaseUrl } from '../api-client.ts';
import { done, expiryText, passwordFrom, succeeded, type JsonOption } from './common.ts';
import { sessionFrom, sessionPath, writeSession } from './session.ts';

/** `login EMAIL [--password P]`: the token pair is saved (0600) for the commands that need a session. */
export async function loginCommand(email: string, opts: JsonOption & { password?: string }): Promise<number> {
  const password = await passwordFrom(opts.password, 'Password', '--password P');
  const pair = await succeeded(opts.json, api().POST('/api/v1/auth/login', { body: { email, password } }));
  const session = sessionFrom(pair, email, apiBaseUrl());
  await writeSession(session);
  return done(opts.json, pair, [
    `Logged in as ${email}. The session is saved in ${sessionPath()} (only you can read it).`,
    `The access token expires ${expiryText(session.access_token_expires_at)} and is renewed automatically.`,
    'Next: panic-api me (your account), panic-api verify-phone (verify your phone), panic-api logout.',
  ]);
}
