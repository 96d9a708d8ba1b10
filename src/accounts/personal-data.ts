import { sql } from 'kysely';
import type { Services } from '../runtime/services.ts';
import type { Queryable } from '../platform/db/client.ts';
import type { User } from '../platform/db/schema.ts';
import type { PersonalData } from '../contract/personal-data.ts';
import { ADDRESS_FACTS } from '../shared/vocabulary.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import { listDeliveryLog, type MessageOwner } from '../delivery/delivery-log.ts';
import { listAccountEvents } from './events.ts';
import { toPublicUser } from './users.ts';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/**
 * An account and every address it has or had (lower-cased): its email and phone, where its codes and
 * its messages went, and those its events name (an earlier email or number). What the person's export
 * shows and what their erasure takes are found by the same list.
 */
export async function ownerOf(db: Queryable, user: Pick<User, 'id' | 'email' | 'phone'>): Promise<MessageOwner> {
  const { rows } = await sql<{ address: string }>`
    SELECT destination AS address FROM otp_codes WHERE user_id = ${user.id}
    UNION SELECT destination FROM otp_long_codes WHERE user_id = ${user.id}
    UNION SELECT recipient FROM messages WHERE user_id = ${user.id}
    UNION SELECT f.value FROM account_events e, jsonb_each_text(e.facts) f
      WHERE e.user_id = ${user.id} AND f.key IN (${sql.join([...ADDRESS_FACTS])}) AND f.value IS NOT NULL`.execute(db);
  const all = [normalizeEmail(user.email), user.phone, ...rows.map((r) => r.address)];
  return { userId: user.id, addresses: [...new Set(all.map((a) => a.toLowerCase()))] };
}

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
      .where(sql<string>`lower(address)`, 'in', owner.addresses)
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
