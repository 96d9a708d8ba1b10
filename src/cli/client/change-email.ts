import { UsageError } from '../errors.ts';
import { devInboxHint, done, expiryText, proofFrom, type JsonOption } from './common.ts';
import { authedRequest, writeSession } from './session.ts';

export interface ChangeEmailOptions extends JsonOption {
  password?: string;
  otp?: string;
  code?: string;
}

/**
 * `change-email NEW [--password P | --otp CODE]`: a code is sent to the new address, the account keeps
 * its own until `change-email --code CODE` moves it there; the saved session then follows the address.
 */
export async function changeEmailCommand(newEmail: string | undefined, opts: ChangeEmailOptions): Promise<number> {
  if (opts.code !== undefined) {
    if (newEmail !== undefined || opts.password !== undefined || opts.otp !== undefined)
      throw new UsageError('With --code give nothing else: the code names the address it was sent to.');
    return confirm(opts.code, opts.json);
  }
  if (newEmail === undefined) throw new UsageError('Give the new address, or --code CODE with the code sent there.');
  const proof = await proofFrom(opts);
  const { body, session } = await authedRequest(opts.json, (client) =>
    client.POST('/api/v1/users/me/email', { body: { email: newEmail, ...proof } }),
  );
  return done(opts.json, body, [
    `A code was sent to ${newEmail}; it expires ${expiryText(body.expires_at, body.expires_in_minutes)}. Until it is entered, the account keeps its current address.`,
    'Check that inbox, then run: panic-api change-email --code CODE',
    await devInboxHint(newEmail, session.api_base_url),
  ]);
}

async function confirm(otp: string, json: boolean | undefined): Promise<number> {
  const { body, session } = await authedRequest(json, (client) =>
    client.POST('/api/v1/users/me/email/verify', { body: { otp } }),
  );
  await writeSession({ ...session, email: body.user.email });
  return done(json, body, [
    `The account's email is now ${body.user.email}; the old address was sent a notice and no longer signs in.`,
    `This session stays signed in; next time sign in with: panic-api login ${body.user.email}`,
  ]);
}
