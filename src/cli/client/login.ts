import { api, apiBaseUrl } from '../api-client.ts';
import { CliError, UsageError } from '../errors.ts';
import {
  devInboxHint,
  done,
  expiryText,
  passwordFrom,
  promptLine,
  shellArg,
  succeeded,
  type JsonOption,
} from './common.ts';
import { sessionFrom, sessionPath, writeSession } from './session.ts';
import type { TokenPair } from '../../contract/token-pair.ts';

type LoginOptions = JsonOption & { password?: string; code?: string | true };

/**
 * `login EMAIL [--password P]`, or `login EMAIL|PHONE --code [OTP]`: the token pair is saved (0600) for
 * the commands that need a session. `--code` alone asks for a sign-in code and then for the code (at a
 * terminal; elsewhere it says how to give it); `--code OTP` signs in with a code asked for earlier.
 */
export async function loginCommand(who: string, opts: LoginOptions): Promise<number> {
  if (opts.code !== undefined && opts.password !== undefined)
    throw new UsageError('Give --password or --code, not both: a code signs in without the password.');
  if (opts.code === undefined) {
    const password = await passwordFrom(opts.password, 'Password', '--password P');
    return saved(
      who,
      opts,
      await succeeded(opts.json, api().POST('/api/v1/auth/login', { body: { email: who, password } })),
    );
  }
  const name = who.includes('@') ? { email: who } : { phone: who };
  let otp = opts.code === true ? undefined : opts.code;
  if (otp === undefined) {
    const sent = await succeeded(opts.json, api().POST('/api/v1/auth/otp', { body: name }));
    const inbox = 'email' in name ? 'your email' : 'your phone';
    const where = [
      `If ${who} belongs to a verified account, a sign-in code was sent by ${sent.channel}; it expires ${expiryText(sent.expires_at, sent.expires_in_minutes)}.`,
      process.stdin.isTTY
        ? `Check ${inbox}, then enter the code here.`
        : `Check ${inbox}, then run: panic-api login ${shellArg(who)} --code CODE`,
      await devInboxHint(who),
    ].filter(Boolean);
    if (!process.stdin.isTTY) return done(opts.json, sent, where);
    process.stderr.write(`${where.join('\n')}\n`);
    otp = (await promptLine('Code:')).trim();
    if (otp === '') throw new CliError('No code was entered.');
  }
  return saved(
    who,
    opts,
    await succeeded(opts.json, api().POST('/api/v1/auth/otp/verify', { body: { ...name, otp } })),
  );
}

async function saved(who: string, opts: JsonOption, pair: TokenPair): Promise<number> {
  const session = sessionFrom(pair, who, apiBaseUrl());
  await writeSession(session);
  return done(opts.json, pair, [
    `Logged in as ${who}. The session is saved in ${sessionPath()} (only you can read it).`,
    `The access token expires ${expiryText(session.access_token_expires_at)} and is renewed automatically.`,
    'Next: panic-api me (your account), panic-api verify-phone (verify your phone), panic-api logout.',
  ]);
}
