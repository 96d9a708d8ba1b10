import type { Services } from '../runtime/services.ts';
import { AppError } from '../shared/errors.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import { assertNotThrottled, clearLoginFailures, countWrongPassword, wrongEmailOrPassword } from './login-throttle.ts';
import { startSession } from './sessions.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import { findUserByEmail } from './users.ts';
import type { User } from '../platform/db/schema.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { recordAccountEvent } from './events.ts';

/**
 * Password login. The password is checked before anything about the account is said, and an unknown
 * email spends a hash and counts a failure exactly like a wrong password.
 */
export async function login(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'passwords'>,
  rawEmail: string,
  password: string,
  requester: Requester,
): Promise<TokenPair> {
  deps.passwords.assertCapacity();
  const email = normalizeEmail(rawEmail);
  const now = deps.clock();
  await assertNotThrottled(deps.db, email, now);
  return passwordSession(deps, email, await findUserByEmail(deps.db, email), password, requester, now);
}

/**
 * The password checked and a session started, past the throttle: for login once the throttle let it
 * through, and for an unlock code given with the password, which signs its holder in at once, so
 * that strangers who fail sign-ins for the account have no moment to arm the throttle again between.
 */
export async function passwordSession(
  deps: Pick<Services, 'db' | 'config' | 'passwords'>,
  email: string,
  user: User | undefined,
  password: string,
  requester: Requester,
  now: Date,
): Promise<TokenPair> {
  const ok = await deps.passwords.verify(user?.password_hash, password);
  if (!user || !ok) {
    await countWrongPassword(deps, { email, userId: user?.id, requester, now });
    throw wrongEmailOrPassword();
  }
  if (!user.email_verified_at) {
    await deps.db.transaction().execute(async (trx) => {
      await clearLoginFailures(trx, email);
      await recordAccountEvent(trx, deps, {
        userId: user.id,
        type: 'login_failed',
        actor: 'user',
        requester,
        facts: { reason: 'email_not_verified' },
        at: now,
      });
    });
    throw new AppError('email_not_verified', 'Verify your email address first.', undefined, { next: 'verify_email' });
  }
  await clearLoginFailures(deps.db, email);
  return startSession(deps, user.id, { method: 'password', requester, passwordHash: user.password_hash! }, now);
}
