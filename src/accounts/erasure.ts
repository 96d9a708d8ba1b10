import { sql, type Transaction } from 'kysely';
import type { Services } from '../runtime/services.ts';
import { AppError } from '../shared/errors.ts';
import { isEmailAddress } from '../shared/addresses.ts';
import { ADDRESS_FACTS, type Actor } from '../shared/vocabulary.ts';
import { eraseMessages, eraseWebhookDeliveries } from '../delivery/erasure.ts';
import { recordAccountEvent } from './events.ts';
import { ownerOf, suppressionsOf } from './personal-data.ts';
import { proveItIsThem, type Proof } from './proof.ts';
import type { Database, User } from '../platform/db/schema.ts';
import type { Requester } from '../shared/trust-proxy.ts';

/**
 * Deletes an account and erases the person from what outlives it, in one transaction: either all of
 * it happens or none.
 * - The account goes, and with it (their foreign keys) its codes, sessions and refresh tokens.
 * - Its messages and account events stay until retention takes them, without its addresses: the
 *   messages lose their address, body and any address quoted in an error (delivery/erasure.ts); the
 *   events lose the facts that hold an address (ADDRESS_FACTS), and their webhook deliveries any
 *   address a receiver quoted back. Their network and user agent stay, the record of who did what to
 *   the account, until retention.
 * - Its own addresses (those it proved and nobody has verified since: ownerOf) leave the suppression
 *   list and the login throttle, and so does the bounce of an address it only named. Nothing else
 *   keyed by an address is touched: an address it merely named (an email change asked for, a number
 *   given at registration) may be someone else's, whose throttle and complaint are theirs.
 * - An `account_deleted` event, with no address, is written (and its `user.deleted` webhook queued).
 * The address is free at once: registering it again makes a new account.
 *
 * What this does not touch: the send limits and SMS budgets in the limiter's store (keyed by address,
 * gone within a day), so that deleting an account is no way round them.
 */
export async function eraseAccount(
  deps: Pick<Services, 'db' | 'config' | 'clock'>,
  userId: string,
  actor: Extract<Actor, 'user' | 'admin'>,
): Promise<void> {
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const user = await trx
      .selectFrom('users')
      .select(['id', 'email', 'phone', 'email_verified_at', 'phone_verified_at'])
      .where('id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
    if (!user) throw new AppError('not_found', 'No account has this id: it may have been deleted already.');
    const owner = await ownerOf(trx, user);
    await eraseMessages(trx, owner, now);
    await eraseWebhookDeliveries(trx, owner, now);
    await trx
      .updateTable('account_events')
      .set({ facts: sql`facts - cast(${sql.val([...ADDRESS_FACTS])} AS text[])` })
      .where('user_id', '=', userId)
      .execute();
    await trx.deleteFrom('suppressions').where(suppressionsOf(owner)).execute();
    const emails = owner.own.filter(isEmailAddress);
    if (emails.length) await trx.deleteFrom('login_failures').where('email', 'in', emails).execute();
    await trx.deleteFrom('users').where('id', '=', userId).execute();
    await recordAccountEvent(trx, deps, { userId, type: 'account_deleted', actor, at: now });
  });
}

/**
 * The signed-in person deletes their own account, once they show it is them (the password, or a
 * fresh sign-in code): a stolen access token alone deletes nothing.
 */
export async function deleteOwnAccount(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'passwords'>,
  user: User,
  proof: Proof,
  requester: Requester,
): Promise<void> {
  await proveItIsThem(deps, user, proof, { by: 'account_deletion', requester, now: deps.clock() });
  await eraseAccount(deps, user.id, 'user');
}

/**
 * Accounts the service removed on its own, in the transaction that removed them: each an
 * `account_deleted` event of the system (and its `user.deleted` webhook), so the platform's services,
 * told of the registration, hear that the account is gone. Used by retention (accounts never
 * verified) and by an email change that takes an address from its pending registration.
 */
export async function recordRemovedAccounts(
  trx: Transaction<Database>,
  deps: Pick<Services, 'config'>,
  userIds: readonly string[],
  reason: 'never_verified' | 'address_proven_by_another',
  at: Date,
): Promise<void> {
  for (const userId of userIds)
    await recordAccountEvent(trx, deps, { userId, type: 'account_deleted', actor: 'system', facts: { reason }, at });
}
