import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import { PENDING_STATUSES } from '../shared/vocabulary.ts';
import { callingCodeOf, nationalDigitsOf } from '../shared/addresses.ts';
import { ownedBy, type MessageOwner } from './delivery-log.ts';

/** What an erased message says instead of its address, its body, and an address in its errors. */
export const ERASED = '[erased]';
/** Whether a message's address was erased (a number's keeps its calling code: "+27 [erased]"). */
export const isErased = (recipient: string): boolean => recipient.endsWith(ERASED);

/** A deleted account, with every address its own rows name (lower-cased): those are replaced in its errors. */
export interface ErasedOwner extends MessageOwner {
  addresses: readonly string[];
}

/**
 * Erases a deleted account's messages, in the erasure's transaction: the address, the subject and the
 * body go, an address quoted in an error or a provider's answer is replaced (the rest of the error
 * stays: why a message failed is not personal), and one still waiting is cancelled (a worker sending
 * it now loses its lease, so its outcome is not written back over the erasure). The messages and their
 * history stay, without the person, until retention takes them; a receipt that comes for one later
 * changes nothing (receipts.ts). Returns how many messages were erased.
 */
export async function eraseMessages(trx: Transaction<Database>, owner: ErasedOwner, now: Date): Promise<number> {
  const scrub = scrubber(owner.addresses);
  const erased = await trx
    .updateTable('messages')
    .set({
      recipient: erasedRecipient(owner.addresses),
      subject: null,
      body_text: ERASED,
      body_html: null,
      otp: null,
      last_error: scrub(sql<string | null>`last_error`),
      status: sql`CASE WHEN status IN (${sql.join(PENDING_STATUSES)}) THEN 'cancelled' ELSE status END`,
      lease_until: null,
      lease_token: null,
      updated_at: now,
    })
    .where(ownedBy(owner))
    .returning(['id', 'status'])
    .execute();
  if (!erased.length) return 0;
  const ids = erased.map((m) => m.id);
  await trx
    .updateTable('message_events')
    .set({
      error: scrub(sql<string | null>`error`),
      provider_error: sql`cast(${scrub(sql<string | null>`cast(provider_error AS text)`)} AS jsonb)`,
    })
    .where('message_id', 'in', ids)
    .execute();
  await trx
    .insertInto('message_events')
    .values(erased.map((m) => ({ message_id: m.id, at: now, kind: 'erased' as const, status: m.status })))
    .execute();
  return erased.length;
}

/**
 * What an erased message keeps of its address: nothing of an email; a number's calling code ("+27
 * [erased]"), which names a country, not a person, so delivery health per country still counts it.
 */
function erasedRecipient(addresses: readonly string[]) {
  const numbers = addresses.filter((a) => a.startsWith('+') && callingCodeOf(a));
  if (!numbers.length) return sql<string>`${ERASED}`;
  const cases = numbers.map((n) => sql`WHEN ${n} THEN ${`+${callingCodeOf(n)} ${ERASED}`}`);
  return sql<string>`CASE lower(recipient) ${sql.join(cases, sql` `)} ELSE ${ERASED} END`;
}

/**
 * Erases a deleted account's webhook deliveries, in the erasure's transaction: an address a receiver
 * quoted in its refusal ("no such user …") is replaced, and one being sent now is taken back from its
 * worker (queued again at once, its lease token gone, as a lease taken over), so the refusal of the
 * request that carried the address is not written after the erasure: it goes again, from the erased
 * event. The deliveries stay with their events until retention.
 */
export async function eraseWebhookDeliveries(trx: Transaction<Database>, owner: ErasedOwner, now: Date): Promise<void> {
  const scrub = scrubber(owner.addresses);
  const sending = sql<boolean>`status = 'sending'`;
  await trx
    .updateTable('webhook_deliveries')
    .set({
      last_error: scrub(sql<string | null>`last_error`),
      status: sql`CASE WHEN ${sending} THEN 'queued' ELSE status END`,
      next_attempt_at: sql`CASE WHEN ${sending} THEN cast(${now} AS timestamptz) ELSE next_attempt_at END`,
      lease_until: null,
      lease_token: null,
    })
    .where('user_id', '=', owner.userId)
    .execute();
}

/** A text with every quoted form of the addresses replaced by ERASED (case-insensitive). */
function scrubber(addresses: readonly string[]) {
  const quoted = quotedForms(addresses);
  return (text: RawBuilder<string | null>) =>
    quoted ? sql<string | null>`regexp_replace(${text}, ${quoted}, ${ERASED}, 'gi')` : text;
}

/**
 * One pattern (PostgreSQL's regular expressions) for every way an address is quoted in an error, or
 * undefined for none: an email as it is; a number in international form with or without its '+'
 * (some providers write 27821234567) and in national form (082 123 4567), its digits apart or not.
 */
function quotedForms(addresses: readonly string[]): string | undefined {
  const forms = new Set(addresses.flatMap((a) => (a.startsWith('+') ? numberForms(a) : [escaped(a)])));
  if (!forms.size) return undefined;
  // longest first, so that "+27…" is replaced whole before its national digits could match inside it
  return [...forms].sort((a, b) => b.length - a.length).join('|');
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/** A number's digits, each but the last followed by any spaces, dots, dashes or brackets. */
const spaced = (digits: string) => [...digits].join('[ ().-]*');

function numberForms(e164: string): string[] {
  const national = nationalDigitsOf(e164);
  return [`\\+?${spaced(e164.slice(1))}`, ...(national ? [`0?[ ().-]*${spaced(national)}`] : [])];
}
