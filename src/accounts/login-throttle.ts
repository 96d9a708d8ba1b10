import { sql } from 'kysely';
import { AppError } from '../shared/errors.ts';
import { addSeconds } from '../shared/clock.ts';
import type { Queryable } from '../platform/db/client.ts';
import type { Services } from '../runtime/services.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { recordAccountEvent, rehearseAccountEvents, type AccountEventInput } from './events.ts';

/** Failures older than this are forgotten. */
const FORGET_AFTER = '1 day';
const FIRST_BLOCK_SECONDS = 30;
const MAX_BLOCK_SECONDS = 3600;

/**
 * Throttles password guessing per email (known or not, so the answer does not tell which): from the
 * max-th failure on, each further failure blocks the next try for twice as long as the last.
 */
export async function assertNotThrottled(db: Queryable, email: string, now: Date): Promise<void> {
  const row = await db
    .selectFrom('login_failures')
    .select('blocked_until')
    .where('email', '=', email)
    .executeTakeFirst();
  if (row?.blocked_until && row.blocked_until > now) {
    const seconds = Math.ceil((row.blocked_until.getTime() - now.getTime()) / 1000);
    throw new AppError(
      'rate_limited',
      `Too many failed sign-ins for this account. Try again in ${seconds} s.`,
      seconds,
      { next: 'request_unlock' },
    );
  }
}

/** Counts a failed sign-in; answers the seconds the next ones are now blocked for, when this failure armed the throttle. */
export async function recordLoginFailure(
  db: Queryable,
  email: string,
  now: Date,
  maxFailures: number,
): Promise<number | undefined> {
  const row = await db
    .insertInto('login_failures')
    .values({ email, failures: 1, updated_at: now })
    .onConflict((oc) =>
      oc.column('email').doUpdateSet({
        failures: sql`CASE WHEN login_failures.updated_at < ${now}::timestamptz - interval '${sql.raw(FORGET_AFTER)}' THEN 1 ELSE login_failures.failures + 1 END`,
        updated_at: now,
      }),
    )
    .returning('failures')
    .executeTakeFirstOrThrow();
  if (row.failures >= maxFailures) {
    const seconds = Math.min(MAX_BLOCK_SECONDS, FIRST_BLOCK_SECONDS * 2 ** (row.failures - maxFailures));
    await db
      .updateTable('login_failures')
      .set({ blocked_until: addSeconds(now, seconds) })
      .where('email', '=', email)
      .execute();
    return seconds;
  }
  return undefined;
}

export async function clearLoginFailures(db: Queryable, email: string): Promise<void> {
  await db.deleteFrom('login_failures').where('email', '=', email).execute();
}

/** A sign-in refused for its email or password: one answer, whichever was wrong, and whenever it was found out. */
export const wrongEmailOrPassword = () => new AppError('invalid_credentials', 'The email or password is wrong.');

/** The signed-in changes that ask for the current password: where a wrong one was given, beside a sign-in. */
export type PasswordAskedBy = 'password_change' | 'email_change' | 'phone_change' | 'account_deletion';

/**
 * A wrong password, counted on the login throttle of `email` with its events, in one transaction:
 * login_failed (reason wrong_password; `during`, when a signed-in change asked for it, so that a
 * password guessed with a stolen session shows in its owner's log as one guessed at sign-in does),
 * and login_throttled when this failure armed the throttle. With no account, the same writes undone:
 * the answer's time must not tell an unknown email from a known one.
 */
export async function countWrongPassword(
  deps: Pick<Services, 'db' | 'config'>,
  wrong: { email: string; userId?: string; requester: Requester; now: Date; during?: PasswordAskedBy },
): Promise<void> {
  const { email, userId, requester, now, during } = wrong;
  await deps.db.transaction().execute(async (trx) => {
    const blocked = await recordLoginFailure(trx, email, now, deps.config.LOGIN_MAX_FAILURES);
    const events: Omit<AccountEventInput, 'userId'>[] = [
      {
        type: 'login_failed',
        actor: 'user',
        requester,
        facts: { reason: 'wrong_password', ...(during ? { during } : {}) },
        at: now,
      },
    ];
    if (blocked !== undefined)
      events.push({
        type: 'login_throttled',
        actor: 'system',
        requester,
        facts: { blocked_seconds: blocked },
        at: now,
      });
    if (!userId) return rehearseAccountEvents(trx, deps, events);
    for (const event of events) await recordAccountEvent(trx, deps, { ...event, userId });
  });
}
