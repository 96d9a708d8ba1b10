import type { Services } from '../runtime/services.ts';
import type { User } from '../platform/db/schema.ts';
import { AppError } from '../shared/errors.ts';
import { isEmailAddress, normalizeEmail } from '../shared/addresses.ts';
import { checkCode } from '../otp/check-code.ts';
import { assertNotThrottled, clearLoginFailures, countWrongPassword, type PasswordAskedBy } from './login-throttle.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { isProvenBy } from './users.ts';

/**
 * How a signed-in person shows it is them before a change a stolen session must not make (the
 * account's address moves, the account is deleted): its password, or a fresh sign-in code.
 */
export type Proof = { password: string } | { otp: string };

/**
 * The password, under the login throttle of the account's address (a stolen session is no way to guess
 * it faster, and each wrong one is a login_failed event saying which change asked for it), or a
 * sign-in code sent to the account's email: the way for an account without a password, and past a
 * throttle that strangers keep armed. Not a code sent to its phone: a session alone puts a first phone
 * on an account that has none (verify-phone asks this proof only to replace a verified one), so a phone
 * code proves no more than the session asking, while the email moves only with this proof.
 */
export async function proveItIsThem(
  deps: Pick<Services, 'db' | 'config' | 'metrics' | 'passwords'>,
  user: User,
  proof: Proof,
  asked: { by: PasswordAskedBy; requester: Requester; now: Date },
): Promise<void> {
  const { now } = asked;
  if ('otp' in proof) {
    const { destination } = await checkCode(deps, {
      userId: user.id,
      purpose: 'login',
      code: proof.otp,
      now,
      revealState: true,
    });
    if (!isEmailAddress(destination) || !isProvenBy(user, destination))
      throw new AppError(
        'otp_invalid',
        "This takes a sign-in code sent to the account's email address (or the password): a code sent to its phone is not enough.",
      );
    return;
  }
  deps.passwords.assertCapacity();
  const email = normalizeEmail(user.email);
  await assertNotThrottled(deps.db, email, now);
  if (!(await deps.passwords.verify(user.password_hash, proof.password))) {
    await countWrongPassword(deps, {
      email,
      userId: user.id,
      requester: asked.requester,
      now,
      during: asked.by,
    });
    throw new AppError(
      'invalid_credentials',
      user.password_hash
        ? 'The password is wrong.'
        : 'This account has no password: send "otp", a sign-in code, instead.',
    );
  }
  await clearLoginFailures(deps.db, email);
}
