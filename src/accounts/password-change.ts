import type { Services } from '../runtime/services.ts';
import { AppError } from '../shared/errors.ts';
import { assertNotThrottled, countWrongPassword } from './login-throttle.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { revokeAllSessions, type Authenticated } from './sessions.ts';
import { recordAccountEvent } from './events.ts';

const wrongPassword = () => new AppError('invalid_credentials', 'The current password is wrong.');

/**
 * A signed-in person changes their password by giving the current one; every other session of the
 * account ends (the one asking stays), and nothing else changes. A wrong current password is a failed
 * sign-in on the account's login throttle, with its login_failed event, and the throttle refuses here
 * as at login: a stolen access token guesses the password no faster than the sign-in page does, nor
 * unseen. Returns how many sessions ended, which its password_changed event records too (the sessions
 * a change ends are part of it: no session_revoked beside it, as for a reset).
 */
export async function changePassword(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'passwords'>,
  { user, sessionId }: Authenticated,
  currentPassword: string,
  newPassword: string,
  requester: Requester,
): Promise<number> {
  if (!user.password_hash) {
    throw new AppError(
      'password_not_set',
      'This account has no password to change: it was registered without one, or it was dropped when the address was verified.',
      undefined,
      { next: 'reset_password' },
    );
  }
  const verified = user.password_hash;
  deps.passwords.assertCapacity();
  const now = deps.clock();
  await assertNotThrottled(deps.db, user.email, now);
  if (!(await deps.passwords.verify(verified, currentPassword))) {
    await countWrongPassword(deps, {
      email: user.email,
      userId: user.id,
      requester,
      now,
      during: 'password_change',
    });
    throw wrongPassword();
  }
  // Hashed before anything changes: a busy hasher (503) leaves the account as it was.
  const passwordHash = await deps.passwords.hash(newPassword);
  return deps.db.transaction().execute(async (trx) => {
    // Only over the password just verified: a reset (or another change) that committed while this one
    // hashed ended this session and chose the password; writing over it would undo the owner's recovery.
    const changed = await trx
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: now })
      .where('id', '=', user.id)
      .where('password_hash', '=', verified)
      .executeTakeFirst();
    if (!Number(changed.numUpdatedRows)) throw wrongPassword();
    const ended = await revokeAllSessions(trx, user.id, now, sessionId);
    await recordAccountEvent(trx, deps, {
      userId: user.id,
      type: 'password_changed',
      actor: 'user',
      requester,
      facts: { sessions_ended: ended },
      at: now,
    });
    return ended;
  });
}
