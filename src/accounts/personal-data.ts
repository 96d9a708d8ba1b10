import { sql, type ExpressionBuilder } from 'kysely';
import type { Services } from '../runtime/services.ts';
import type { Queryable } from '../platform/db/client.ts';
import type { Database, User } from '../platform/db/schema.ts';
import type { PersonalData } from '../contract/personal-data.ts';
import { ADDRESS_FACTS, type AccountEventType } from '../shared/vocabulary.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import { listDeliveryLog } from '../delivery/delivery-log.ts';
import type { ErasedOwner } from '../delivery/erasure.ts';
import { listAccountEvents } from './events.ts';
import { toPublicUser } from './users.ts';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** The events that record an address the account proved: a code that came back from it. */
const PROVING_EVENTS = ['email_verified', 'phone_verified', 'phone_changed'] as const satisfies AccountEventType[];

/**
 * An account and its addresses (lower-cased), found by one list for what its export shows and what
 * its erasure takes:
 * - `addresses`: every one its own rows name (its email and phone, where its codes and messages went,
 *   those its events name): replaced in those rows' errors by its erasure.
 * - `own`: those it proved (its verified email and phone, those its events record as verified) that
 *   no other account has verified since: what is found by address alone (messages from before they
 *   had an owner, the suppression list, the login throttle). An address it only named (an email
 *   change asked for, a number given at registration) may be anybody's: naming someone's address
 *   gives neither their rows nor their throttle away.
 * - `free`: those no other account has verified.
 */
export async function ownerOf(
  db: Queryable,
  user: Pick<User, 'id' | 'email' | 'phone' | 'email_verified_at' | 'phone_verified_at'>,
): Promise<AccountAddresses> {
  const { rows } = await sql<{ address: string; proven: boolean }>`
    SELECT destination AS address, false AS proven FROM otp_codes WHERE user_id = ${user.id}
    UNION SELECT destination, false FROM otp_long_codes WHERE user_id = ${user.id}
    UNION SELECT recipient, false FROM messages WHERE user_id = ${user.id}
    UNION SELECT f.value, e.type IN (${sql.join(PROVING_EVENTS)}) FROM account_events e, jsonb_each_text(e.facts) f
      WHERE e.user_id = ${user.id} AND f.key IN (${sql.join([...ADDRESS_FACTS])}) AND f.value IS NOT NULL`.execute(db);
  const named = [
    { address: normalizeEmail(user.email), proven: user.email_verified_at !== null },
    { address: user.phone, proven: user.phone_verified_at !== null },
    ...rows,
  ].map((r) => ({ address: r.address.toLowerCase(), proven: r.proven }));
  const addresses = [...new Set(named.map((r) => r.address))];
  const { rows: taken } = await sql<{ address: string }>`
    SELECT lower(email) AS address FROM users
      WHERE id <> ${user.id} AND email_verified_at IS NOT NULL AND lower(email) IN (${sql.join(addresses)})
    UNION SELECT phone FROM users
      WHERE id <> ${user.id} AND phone_verified_at IS NOT NULL AND phone IN (${sql.join(addresses)})`.execute(db);
  const others = new Set(taken.map((r) => r.address));
  const free = addresses.filter((a) => !others.has(a));
  const own = free.filter((a) => named.some((r) => r.proven && r.address === a));
  return { userId: user.id, addresses, own, free };
}

/** ownerOf's answer. */
export interface AccountAddresses extends ErasedOwner {
  free: readonly string[];
}

/**
 * The suppressions that are the account's: of an address of its own, and the bounce of one no other
 * account holds (its typo, or a mailbox nobody reads: lifting it sends nobody anything they refused).
 * A complaint about an address it only named is the wish of whoever reads that inbox: it stays.
 */
export const suppressionsOf =
  ({ own, free }: AccountAddresses) =>
  (eb: ExpressionBuilder<Database, 'suppressions'>) =>
    eb.or([
      ...(own.length ? [eb(sql<string>`lower(address)`, 'in', [...own])] : []),
      eb.and([eb('kind', '=', 'bounce'), eb(sql<string>`lower(address)`, 'in', [...free])]),
    ]);

/** Every page of a list of events, newest first: an export holds them all. */
const EVENT_PAGE = 1000;

/** Everything held about the person, as one document: what GET /users/me/export answers. */
export async function exportPersonalData(deps: Pick<Services, 'db' | 'clock'>, user: User): Promise<PersonalData> {
  const { db } = deps;
  const owner = await ownerOf(db, user);
  const [sessions, codes, messages, suppressions, throttle] = await Promise.all([
    db
      .selectFrom('sessions')
      .select(['id', 'created_at', 'last_used_at', 'expires_at', 'revoked_at', 'method', 'network', 'user_agent'])
      .where('user_id', '=', user.id)
      .orderBy('created_at', 'desc')
      .execute(),
    db
      .selectFrom('otp_codes')
      .select(['purpose', 'destination', 'created_at', 'expires_at', 'consumed_at', 'attempts'])
      .where('user_id', '=', user.id)
      .orderBy('created_at', 'desc')
      .execute(),
    listDeliveryLog(db, { owner, limit: Number.MAX_SAFE_INTEGER }),
    db
      .selectFrom('suppressions')
      .select(['address', 'kind', 'reason', 'created_at'])
      .where(suppressionsOf(owner))
      .execute(),
    db
      .selectFrom('login_failures')
      .select(['failures', 'blocked_until'])
      .where('email', '=', normalizeEmail(user.email))
      .executeTakeFirst(),
  ]);
  const events = [];
  for (let cursor: string | undefined; ; ) {
    const page = await listAccountEvents(db, { userId: user.id, cursor, limit: EVENT_PAGE });
    events.push(...page.events);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return {
    exported_at: deps.clock().toISOString(),
    account: {
      ...toPublicUser(user),
      email_verified_at: iso(user.email_verified_at),
      phone_verified_at: iso(user.phone_verified_at),
      updated_at: iso(user.updated_at)!,
      has_password: user.password_hash !== null,
    },
    sessions: sessions.map((s) => ({
      ...s,
      created_at: iso(s.created_at)!,
      last_used_at: iso(s.last_used_at)!,
      expires_at: iso(s.expires_at)!,
      revoked_at: iso(s.revoked_at),
    })),
    codes: codes.map(({ consumed_at, ...c }) => ({
      ...c,
      created_at: iso(c.created_at)!,
      expires_at: iso(c.expires_at)!,
      used_at: iso(consumed_at),
    })),
    events,
    messages,
    suppressions: suppressions.map((s) => ({ ...s, created_at: iso(s.created_at)! })),
    login_throttle: throttle ? { failures: throttle.failures, blocked_until: iso(throttle.blocked_until) } : null,
  };
}
