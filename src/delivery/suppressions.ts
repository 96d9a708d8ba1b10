import type { Kysely } from 'kysely';
import type { Database, SuppressionsTable } from '../platform/db/schema.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import type { Queryable } from '../platform/db/client.ts';

export type SuppressionKind = SuppressionsTable['kind'];

export interface Suppression {
  address: string;
  kind: SuppressionKind;
  reason: string;
  message_id: string | null;
  created_at: Date;
}

/**
 * Puts an address on the suppression list after a hard bounce or a complaint; the first reason
 * stays (a later bounce of the same address adds nothing an operator needs).
 */
export async function suppress(
  db: Kysely<Database>,
  entry: { address: string; kind: SuppressionKind; reason: string; messageId: string | null },
  now: Date,
): Promise<void> {
  await db
    .insertInto('suppressions')
    .values({
      address: normalizeEmail(entry.address),
      kind: entry.kind,
      reason: entry.reason.slice(0, 1000),
      message_id: entry.messageId,
      created_at: now,
    })
    .onConflict((oc) => oc.column('address').doNothing())
    .execute();
}

/** The address's suppression, if it has one. */
export async function suppressionOf(db: Kysely<Database>, address: string): Promise<Suppression | undefined> {
  return db.selectFrom('suppressions').selectAll().where('address', '=', normalizeEmail(address)).executeTakeFirst();
}

/** Takes an address off the list (the person fixed their mailbox); true when it was on it. In the caller's transaction, if any. */
export async function unsuppress(db: Queryable, address: string): Promise<boolean> {
  const result = await db.deleteFrom('suppressions').where('address', '=', normalizeEmail(address)).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
