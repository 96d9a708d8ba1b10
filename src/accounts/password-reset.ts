import type { Services } from '../runtime/services.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import { emailAccountCodeEvenly } from './account-code.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { revokeAllSessions, startSession } from './sessions.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import { findUserByEmail } from './users.ts';
import { recordAccountEvent } from './events.ts';

/** Emails a reset code when the account exists; answers the same, at the same moment, in every case. */
export function forgotPassword(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'sendLimits' | 'seal' | 'composer'>,
  rawEmail: string,
  requester: Requester,
): Promise<CodeSent> {
  return emailAccountCodeEvenly(deps, 'password_reset', rawEmail, requester, () => true);
}

/**
 * Sets a new password with a reset code, ends every session of the account and starts one for the
 * code's holder: signed in at once, so strangers failing sign-ins for the account (the throttle) cannot
 * keep the owner out after they proved the inbox.
 */
export async function resetPassword(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'passwords'>,
  rawEmail: string,
  otp: string,
  newPassword: string,
  requester: Requester,
): Promise<TokenPair> {
  const email = normalizeEmail(rawEmail);
  const user = await findUserByEmail(deps.db, email);
  const now = deps.clock();
  // Hashed first: a busy hasher (503) must not leave the code spent and the password unchanged.
  const passwordHash = await deps.passwords.hash(newPassword);
  await checkCode(deps, { userId: user?.id, purpose: 'password_reset', code: otp, now, revealState: false });
  await deps.db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('users')
      .select('email_verified_at')
      .where('id', '=', user!.id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    // The code reached the inbox, which proves the address too.
    await trx
      .updateTable('users')
      .set((eb) => ({
        password_hash: passwordHash,
        password_contested: false,
        updated_at: now,
        email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(now)),
      }))
      .where('id', '=', user!.id)
      .execute();
    const ended = await revokeAllSessions(trx, user!.id, now);
    await clearLoginFailures(trx, email);
    const event = { userId: user!.id, actor: 'user' as const, requester, at: now };
    if (!before.email_verified_at)
      await recordAccountEvent(trx, deps, { ...event, type: 'email_verified', facts: { email: user!.email } });
    // the sessions it ended are counted here, not repeated as session_revoked (as for a password change)
    await recordAccountEvent(trx, deps, { ...event, type: 'password_reset', facts: { sessions_ended: ended } });
  });
  // the code stands in for the password it replaces
  return startSession(deps, user!.id, { method: 'password', requester }, now);
}
