import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import type { Channel, MessageStatus } from '../shared/vocabulary.ts';
import type { Services } from '../runtime/services.ts';
import type { RoadMessage } from './road.ts';
import { suppress, type SuppressionKind } from './suppressions.ts';
import { reasonLabel } from './reasons.ts';
import { isUuid } from '../shared/ids.ts';
import { isErased } from './erasure.ts';

/** What a provider can tell us after it accepted a message. */
export type ReceiptStatus = 'sent' | 'delivered' | 'undelivered' | 'failed' | 'bounced';

export interface Receipt {
  channel: Channel;
  /** Who sent the receipt: it names only messages this provider accepted (another's would be forged). */
  provider: string;
  /** How the provider names the message: its own id, or ours (email bridges read it from X-Panic-Message-Id). */
  ref: { providerId: string } | { messageId: string };
  status: ReceiptStatus;
  /** The provider's code (Twilio's ErrorCode, an SMTP reply code). */
  errorCode?: string;
  /** The provider's words for a failure, or the facts of a call (its duration, its SIP code). */
  reason?: string;
  /** The provider's own word when it is not ours (WhatsApp's `read`, a call's `completed` or `busy`): the event keeps it. */
  said?: string;
}

export interface AppliedReceipt extends RoadMessage {
  id: string;
  recipient: string;
  /** The message's state after the receipt. */
  status: MessageStatus;
  /** False when the message already had a final receipt, or when this one says no more than `sent`. */
  changed: boolean;
  created_at: Date;
}

/**
 * Applies a receipt to the message it names, once. Receipts come late, twice and out of order, so only
 * a message still at `sent` (accepted, no final word yet) takes a final state, and `sent` itself changes
 * nothing: a late `sent` never overwrites `delivered`, and a second final receipt never overwrites the
 * first. Answers undefined when no message of the channel has been accepted under that name (yet):
 * one still being sent is not `sent` until its worker records the provider's id.
 */
export async function applyReceipt(
  db: Kysely<Database>,
  receipt: Receipt,
  now: Date,
): Promise<AppliedReceipt | undefined> {
  const named = db
    .selectFrom('messages')
    .select(['id', 'recipient', 'status', 'created_at', 'channel', 'code_id', 'locale'])
    .where('channel', '=', receipt.channel);
  let found: typeof named;
  if ('messageId' in receipt.ref) {
    if (!isUuid(receipt.ref.messageId)) return undefined;
    found = named.where('id', '=', receipt.ref.messageId);
  } else {
    // nodemailer's Message-ID keeps its angle brackets; a mail provider's webhook often drops them
    const id = receipt.ref.providerId.replace(/^<(.*)>$/, '$1');
    found = named.where('provider_id', 'in', [id, `<${id}>`]);
  }
  const message = await found
    .where('sent_at', 'is not', null)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('message_events')
          .select('message_events.id')
          .whereRef('message_events.message_id', '=', 'messages.id')
          .where('kind', '=', 'sent')
          // a second account of the same provider sends as "<provider>-fallback" (channels/index.ts),
          // and its receipts come to the same route, signed by one of our accounts of that provider
          .where('provider', 'in', [receipt.provider, `${receipt.provider}-fallback`]),
      ),
    )
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!message) return undefined;
  // an erased message's story ended with its account: a late receipt would write the provider's
  // words back, the address they quote with them
  if (receipt.status === 'sent' || isErased(message.recipient)) return { ...message, changed: false };
  const updated = await db
    .updateTable('messages')
    .set({
      status: receipt.status,
      updated_at: now,
      ...(receipt.errorCode !== undefined ? { provider_error_code: receipt.errorCode.slice(0, 100) } : {}),
      ...(receipt.status !== 'delivered' ? { last_error: describe(receipt).slice(0, 1000) } : {}),
    })
    .where('id', '=', message.id)
    .where('status', '=', 'sent')
    .returning(['id', 'recipient', 'status', 'created_at', 'channel', 'code_id', 'locale'])
    .executeTakeFirst();
  if (updated) return { ...updated, changed: true };
  const current = await db
    .selectFrom('messages')
    .select(['id', 'recipient', 'status', 'created_at', 'channel', 'code_id', 'locale'])
    .where('id', '=', message.id)
    .executeTakeFirst();
  return current && { ...current, changed: false };
}

/** The states a receipt of failure leaves a message in, counted by reason. */
const FAILURES: ReadonlySet<MessageStatus> = new Set(['undelivered', 'failed', 'bounced']);

/** The provider's report, in one line. */
const describe = (r: Receipt): string =>
  [`provider reported ${r.said ?? r.status}`, r.errorCode && `code ${r.errorCode}`, r.reason]
    .filter(Boolean)
    .join(': ');

/**
 * Takes a provider's receipt: applies it, puts the address on the suppression list when the receipt
 * says so (a hard bounce, a complaint), and counts and logs what changed. Undefined when no accepted
 * message has that name.
 */
export async function takeReceipt(
  deps: Pick<Services, 'db' | 'clock' | 'metrics' | 'logger' | 'road'>,
  receipt: Receipt & { suppress?: { kind: SuppressionKind; reason: string } },
): Promise<AppliedReceipt | undefined> {
  const now = deps.clock();
  const applied = await deps.db.transaction().execute(async (trx) => {
    const done = await applyReceipt(trx, receipt, now);
    if (done?.changed) {
      await trx
        .insertInto('message_events')
        .values({
          message_id: done.id,
          at: now,
          kind: 'receipt',
          status: done.status,
          provider: receipt.provider,
          provider_code: receipt.errorCode?.slice(0, 100) ?? null,
          // a plain `delivered` needs no words; a `read` or an answered call says so
          error: done.status === 'delivered' && !receipt.said ? null : describe(receipt).slice(0, 1000),
        })
        .execute();
    }
    // an erased message's address is unknown: there is nothing to suppress
    if (done && receipt.suppress && !isErased(done.recipient)) {
      await suppress(trx, { address: done.recipient, ...receipt.suppress, messageId: done.id }, now);
    }
    return done;
  });
  if (applied?.changed) {
    const { channel, provider } = receipt;
    deps.metrics.outcomes.inc({
      channel,
      provider,
      status: applied.status,
      destination: deps.metrics.destination(applied.recipient),
    });
    if (FAILURES.has(applied.status))
      deps.metrics.deliveryFailures.inc({
        channel,
        provider,
        stage: 'receipt',
        reason: reasonLabel(provider, { code: receipt.errorCode }),
      });
    if (applied.status === 'delivered')
      deps.metrics.queuedToDelivered.observe(
        { channel, provider },
        (now.getTime() - applied.created_at.getTime()) / 1000,
      );
    deps.logger.info(
      { message_id: applied.id, channel, provider, status: applied.status, error_code: receipt.errorCode },
      'receipt',
    );
    // a phone code's road: on at once when this channel did not reach the person, stopped when it did
    if (applied.status === 'delivered') await deps.road.delivered(applied);
    else await deps.road.failed(applied, describe(receipt));
  }
  return applied;
}
