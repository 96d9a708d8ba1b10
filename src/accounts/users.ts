import { sql } from 'kysely';
import type { User } from '../platform/db/schema.ts';
import type { PublicUser } from '../contract/public-user.ts';
import type { Locale } from '../shared/locales.ts';
import type { SentPart } from '../otp/send-limits.ts';
import type { Queryable } from '../platform/db/client.ts';
import { isEmailAddress } from '../shared/addresses.ts';

export function toPublicUser(u: User): PublicUser {
  return {
    id: u.id,
    email: u.email,
    phone: u.phone,
    first_name: u.first_name,
    last_name: u.last_name,
    email_verified: u.email_verified_at !== null,
    phone_verified: u.phone_verified_at !== null,
    locale: u.locale,
    created_at: new Date(u.created_at).toISOString(),
  };
}

/** Sets the language of an account's messages, from its next code on. */
export async function setLocale(db: Queryable, userId: string, locale: Locale, now: Date): Promise<PublicUser> {
  const user = await db
    .updateTable('users')
    .set({ locale, updated_at: now })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPublicUser(user);
}

export function findUserByEmail(db: Queryable, email: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The account an email address or a phone number (E.164) belongs to: its email, or its phone (the
 * account that verified it, else the newest that gave it). Support's lookups, never a sign-in.
 */
export function findUserByAddress(db: Queryable, destination: string): Promise<User | undefined> {
  const users = db.selectFrom('users').selectAll();
  if (isEmailAddress(destination))
    return users.where(sql<string>`lower(email)`, '=', destination.toLowerCase()).executeTakeFirst();
  return users
    .where('phone', '=', destination)
    .orderBy(sql`phone_verified_at IS NULL`)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Only a verified phone identifies an account: an unverified one may be anybody's typo. */
export function findUserByVerifiedPhone(db: Queryable, phone: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('phone', '=', phone)
    .where('phone_verified_at', 'is not', null)
    .executeTakeFirst();
}

export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string; message?: string };
  return e?.code === '23505' && (e.constraint === constraint || (e.message ?? '').includes(constraint));
}

/** Whether destination is the account's verified email or its verified phone. */
export const isProvenBy = (user: User, destination: string): boolean =>
  (destination === user.email && user.email_verified_at !== null) ||
  (destination === user.phone && user.phone_verified_at !== null);

/** Which part of a destination's budget of codes sent a code for this account spends (otp/send-limits.ts). */
export const sentPartOf = (user: User, destination: string): SentPart =>
  isProvenBy(user, destination) ? 'proven' : 'new';
