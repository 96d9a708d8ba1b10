import { accountLines } from '../account-lines.ts';
import { done, proofFrom, refuseUnattended, typedBack, type JsonOption } from './common.ts';
import { authedRequest, deleteSession, sessionPath } from './session.ts';

export interface DeleteAccountOptions extends JsonOption {
  password?: string;
  otp?: string;
  yes?: boolean;
}

/**
 * `delete-account [--password P | --otp CODE] [--yes]`: the signed-in person's account goes, and their
 * address and phone are erased from what the service keeps. The password (or a sign-in code) proves
 * it is them, a session alone deletes nothing; at a terminal the account's email is then typed back,
 * unless --yes. The saved session goes with the account.
 */
export async function deleteAccountCommand(opts: DeleteAccountOptions): Promise<number> {
  refuseUnattended(opts.yes, 'Deleting your account');
  const proof = await proofFrom(opts);
  if (!opts.yes) {
    const { body: me } = await authedRequest(opts.json, (client) => client.GET('/api/v1/auth/me'));
    process.stderr.write(`This deletes your account for good:\n${accountLines(me).join('\n')}\n`);
    await typedBack(me.email, `Type ${me.email} to delete it:`);
  }
  const { body } = await authedRequest(opts.json, (client) => client.DELETE('/api/v1/users/me', { body: proof }));
  await deleteSession();
  return done(opts.json, body, [
    body.message,
    `You are logged out (${sessionPath()} is deleted). The address is free: it can register again at once (panic-api register).`,
  ]);
}
