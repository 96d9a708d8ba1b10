import { EventEmitter } from 'node:events';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Channel, Database, Message, OtpPurpose } from '../db/schema.ts';
import { addSeconds } from '../clock.ts';

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

/** Tells an in-process worker that a message was committed, so it need not wait for its next poll. */
export const outboxSignal = new EventEmitter();

/** Writes a message in the caller's transaction: it exists exactly when the code does. */
export async function enqueue(trx: Transaction<Database>, msg: CodeMessage, now: Date): Promise<string> {
  const row = await trx
    .insertInto('messages')
    .values({
      channel: msg.channel,
      recipient: msg.recipient,
      purpose: msg.purpose,
      subject: msg.subject,
      body_text: msg.text,
      body_html: msg.html,
      otp: msg.otp,
      expires_at: msg.expiresAt,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export function notifyEnqueued(): void {
  outboxSignal.emit('enqueued');
}

/**
 * Claims due messages: queued ones whose time has come, and sending ones whose lease ran out
 * (their worker died). SKIP LOCKED lets several workers claim side by side without sharing a row.
 */
export async function claimDue(db: Kysely<Database>, now: Date, leaseSeconds: number, limit: number): Promise<Message[]> {
  const due = db
    .selectFrom('messages')
    .select('id')
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
      updated_at: now,
    }))
    .where('id', 'in', due)
    .returningAll()
    .execute();
}

const REDACTED = '[redacted after delivery]';

type Outcome =
  | { status: 'sent'; providerId: string | null }
  | { status: 'captured'; reason: string }
  | { status: 'failed'; reason: string }
  | { status: 'queued'; reason: string; retryAt: Date };

/**
 * Records what happened to a claimed message. Final states drop the code-bearing body unless
 * `keepBody` (development), so the database holds a readable code only while it is in flight.
 */
export async function recordOutcome(
  db: Kysely<Database>,
  id: string,
  outcome: Outcome,
  now: Date,
  keepBody: boolean,
): Promise<void> {
  const final = outcome.status !== 'queued';
  const redact = final && !keepBody ? { body_text: REDACTED, body_html: null, otp: null } : {};
  await db
    .updateTable('messages')
    .set({
      status: outcome.status,
      updated_at: now,
      lease_until: null,
      ...(outcome.status === 'sent' ? { provider_id: outcome.providerId, sent_at: now, last_error: null } : {}),
      ...(outcome.status === 'queued' ? { next_attempt_at: outcome.retryAt } : {}),
      ...('reason' in outcome ? { last_error: outcome.reason.slice(0, 1000) } : {}),
      ...redact,
    })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .execute();
}

export async function queueDepth(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('status', 'in', ['queued', 'sending'])
    .executeTakeFirstOrThrow();
  return row.n;
}
