import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Message } from '../db/schema.ts';
import { PENDING_STATUSES, type Channel, type OtpPurpose } from '../vocabulary.ts';
import { addSeconds } from '../clock.ts';
import type { MessageSeal } from './sealed-body.ts';

export interface CodeMessage {
  channel: Channel;
  recipient: string;
  purpose: OtpPurpose;
  subject: string | null;
  text: string;
  html: string | null;
  otp: string;
  expiresAt: Date;
}

/** The notification channel that tells every listening worker a message was committed. */
export const OUTBOX_NOTIFY_CHANNEL = 'panic_outbox';

/**
 * Writes a message in the caller's transaction: it exists exactly when the code does. Its code-bearing
 * columns are sealed (only the worker and the dev inbox open them). The NOTIFY is delivered at commit,
 * to every worker that listens, in this process or another.
 */
export async function enqueue(trx: Transaction<Database>, msg: CodeMessage, now: Date, seal: MessageSeal): Promise<string> {
  const sealed = seal.seal({
    channel: msg.channel,
    recipient: msg.recipient,
    purpose: msg.purpose,
    body_text: msg.text,
    body_html: msg.html,
    otp: msg.otp,
  });
  const row = await trx
    .insertInto('messages')
    .values({
      ...sealed,
      subject: msg.subject,
      expires_at: msg.expiresAt,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`SELECT pg_notify(${OUTBOX_NOTIFY_CHANNEL}, ${msg.channel})`.execute(trx);
  return row.id;
}

/**
 * Claims up to `limit` due messages of one channel: queued ones whose time has come, and sending ones
 * whose lease ran out (their worker died). SKIP LOCKED lets several workers claim side by side without
 * sharing a row; each claim gets a new lease token, so a worker whose lease was taken over can no
 * longer record an outcome. `inFlight`: the ids the claiming worker is sending itself, which it does
 * not take over from itself when a send outlasts its lease (it would send them twice).
 */
export async function claimDue(
  db: Kysely<Database>,
  channel: Channel,
  now: Date,
  leaseSeconds: number,
  limit: number,
  inFlight: readonly string[] = [],
): Promise<Message[]> {
  const due = db
    .selectFrom('messages')
    .select('id')
    .where('channel', '=', channel)
    .$if(inFlight.length > 0, (q) => q.where('id', 'not in', inFlight))
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'queued'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'sending'), eb('lease_until', '<', now)]),
      ]),
    )
    .orderBy('next_attempt_at')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  return db
    .updateTable('messages')
    .set((eb) => ({
      status: 'sending',
      attempts: eb('attempts', '+', 1),
      lease_until: addSeconds(now, leaseSeconds),
      lease_token: sql<string>`gen_random_uuid()`,
      updated_at: now,
    }))
    .where('id', 'in', due)
    .returningAll()
    .execute();
}

const REDACTED = '[redacted after delivery]';

export type Outcome =
  | { status: 'sent'; providerId: string | null }
  | { status: 'captured'; reason: string }
  | { status: 'failed'; reason: string }
  | { status: 'suppressed'; reason: string }
  | { status: 'queued'; reason: string; retryAt: Date };

/**
 * Records what happened to a claimed message, if `leaseToken` still holds its claim; false when it
 * does not (the lease ran out and another worker took the message over). Final states drop the
 * code-bearing body unless `keepBody` (development, where it stays sealed for the dev inbox).
 */
export async function recordOutcome(
  db: Kysely<Database>,
  message: Pick<Message, 'id' | 'lease_token'>,
  outcome: Outcome,
  now: Date,
  keepBody: boolean,
): Promise<boolean> {
  const final = outcome.status !== 'queued';
  const redact = final && !keepBody ? { body_text: REDACTED, body_html: null, otp: null } : {};
  const result = await db
    .updateTable('messages')
    .set({
      status: outcome.status,
      updated_at: now,
      lease_until: null,
      lease_token: null,
      ...(outcome.status === 'sent' ? { provider_id: outcome.providerId, sent_at: now, last_error: null } : {}),
      ...(outcome.status === 'queued' ? { next_attempt_at: outcome.retryAt } : {}),
      ...('reason' in outcome ? { last_error: outcome.reason.slice(0, 1000) } : {}),
      ...redact,
    })
    .where('id', '=', message.id)
    .where('status', '=', 'sending')
    .where('lease_token', '=', message.lease_token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Messages still to be sent, of one channel or of all. */
export async function queueDepth(db: Kysely<Database>, channel?: Channel): Promise<number> {
  let query = db.selectFrom('messages').select(sql<number>`count(*)::int`.as('n')).where('status', 'in', PENDING_STATUSES);
  if (channel) query = query.where('channel', '=', channel);
  return (await query.executeTakeFirstOrThrow()).n;
}
