import { sql, type Transaction } from 'kysely';
import type { Services } from '../runtime/services.ts';
import type { Database, User } from '../platform/db/schema.ts';
import type { PublicUser } from '../contract/public-user.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { AppError } from '../shared/errors.ts';
import { maskEmail, normalizeEmail } from '../shared/addresses.ts';
import { codeExpiry, sendCode } from '../otp/send-code.ts';
import { checkCode } from '../otp/check-code.ts';
import { queueNotice } from '../delivery/notices.ts';
import { answerEvenly } from './even-answer.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { proveItIsThem, type Proof } from './proof.ts';
import { recordRemovedAccounts } from './erasure.ts';
import { isUniqueViolation, sentPartOf, toPublicUser } from './users.ts';
import { recordAccountEvent } from './events.ts';
import type { Requester } from '../shared/trust-proxy.ts';

/**
 * Sends a code to the address the account asks to move to; the account keeps its address until the
 * code comes back (confirmEmailChange). Nothing here looks at who holds that address: a free one, one
 * verified on another account and one pending registration are sent the same code and answered the
 * same, no sooner than the even answer's floor. Only the code's holder learns, at verify, that it is
 * taken: anything sooner would tell a signed-in stranger which addresses have accounts.
 */
export async function requestEmailChange(
  deps: Pick<
    Services,
    'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'passwords' | 'sendLimits' | 'seal' | 'composer'
  >,
  user: User,
  rawEmail: string,
  proof: Proof,
  requester: Requester,
): Promise<CodeSent> {
  return answerEvenly(deps.logger, async () => {
    const now = deps.clock();
    await proveItIsThem(deps, user, proof, { by: 'email_change', requester, now });
    const email = normalizeEmail(rawEmail);
    // the asker's own address: it tells nothing about anybody else's
    if (email === normalizeEmail(user.email))
      throw new AppError('email_unchanged', "This is already the account's email address: nothing to change.");
    // The asker is the account, as for a new phone number: strangers on its network spend none of it.
    const asker = { account: user.id };
    await deps.sendLimits.takeAsked(asker, email);
    const part = sentPartOf(user, email);
    if (!(await deps.sendLimits.tryTakeSent(asker, email, part))) {
      const waits = await deps.sendLimits.waits(email);
      throw new AppError(
        'rate_limited',
        'Too many codes were sent to this address in the last hour. Try again later.',
        Math.max(1, waits[part]),
      );
    }
    await sendCode(deps, {
      userId: user.id,
      firstName: user.first_name,
      locale: user.locale,
      purpose: 'email_change',
      channel: 'email',
      destination: email,
      now,
    });
    return codeExpiry(deps, 'email', now);
  });
}

const emailTaken = () =>
  new AppError('email_taken', 'This email address is verified on another account: the email was not changed.');

/**
 * Moves the account to the address its email_change code was sent to (the code's destination: the
 * pending address needs no table). The code proves the new inbox; then, in one transaction, the
 * address becomes the account's, verified, every code sent to an inbox ends, the login throttles of
 * both addresses are lifted, the old address is sent a notice and the email_changed event (and its
 * webhook) is written. Sessions stay: the person who just proved both their password (or a sign-in
 * code) and the new inbox is using them.
 */
export async function confirmEmailChange(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'seal' | 'composer'>,
  user: User,
  otp: string,
  requester: Requester,
): Promise<PublicUser> {
  const now = deps.clock();
  const { destination } = await checkCode(deps, {
    userId: user.id,
    purpose: 'email_change',
    code: otp,
    now,
    revealState: true,
  });
  // Another switch to the same address, or a registration of it, committed between the look and the
  // write: read again once, and the address is then plainly taken or free.
  for (let tries = 0; ; tries++) {
    try {
      return await deps.db
        .transaction()
        .execute((trx) => switchEmail(trx, deps, { userId: user.id, email: destination, requester, now }));
    } catch (err) {
      if (tries === 0 && isUniqueViolation(err, 'users_email_key')) continue;
      throw err;
    }
  }
}

async function switchEmail(
  trx: Transaction<Database>,
  deps: Pick<Services, 'config' | 'seal' | 'composer'>,
  { userId, email, requester, now }: { userId: string; email: string; requester: Requester; now: Date },
): Promise<PublicUser> {
  const holder = await trx
    .selectFrom('users')
    .select(['id', 'email_verified_at'])
    .where(sql<string>`lower(email)`, '=', email)
    .where('id', '!=', userId)
    .executeTakeFirst();
  if (holder?.email_verified_at) throw emailTaken();
  // A registration that never proved the inbox, which this person just did: they win it, as their
  // own registration of it would (SECURITY.md, account takeover).
  if (holder) {
    await trx.deleteFrom('users').where('id', '=', holder.id).where('email_verified_at', 'is', null).execute();
    await recordRemovedAccounts(trx, deps, [holder.id], 'address_proven_by_another', now);
  }
  const old = await trx
    .selectFrom('users')
    .select(['email', 'first_name', 'locale'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const moved = await trx
    .updateTable('users')
    .set({ email, email_verified_at: now, updated_at: now })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  // A code sent to an inbox, the old one above all, no longer speaks for the account; phone codes do.
  await trx
    .updateTable('otp_codes')
    .set({ consumed_at: now, sealed_code: null })
    .where('user_id', '=', userId)
    .where('consumed_at', 'is', null)
    .where('destination', 'like', '%@%')
    .execute();
  await trx.deleteFrom('otp_long_codes').where('user_id', '=', userId).where('destination', 'like', '%@%').execute();
  // The old address's failures are no longer this account's to carry (whoever registers it next starts
  // clean); the new one's, armed by anyone, would keep out the person who just proved its inbox.
  await clearLoginFailures(trx, normalizeEmail(old.email));
  await clearLoginFailures(trx, email);
  // To the old address, so that a takeover is seen by the owner; the new one only partly: the notice
  // may be read by whoever still reads the old inbox.
  await queueNotice(trx, deps, {
    notice: 'email_changed',
    userId,
    channel: 'email',
    recipient: old.email,
    now,
    maskedEmail: maskEmail(email),
    changedAt: now,
    firstName: old.first_name,
    locale: old.locale,
  });
  await recordAccountEvent(trx, deps, {
    userId,
    type: 'email_changed',
    actor: 'user',
    requester,
    facts: { email, previous_email: old.email },
    at: now,
  });
  return toPublicUser(moved);
}
