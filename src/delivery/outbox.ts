import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Message, NewMessageEvent } from '../platform/db/schema.ts';
import { PENDING_STATUSES, type Channel, type OtpPurpose } from '../shared/vocabulary.ts';
import { addSeconds } from '../shared/clock.ts';
import type { MessageSeal } from './sealed-body.ts';
import type { ProviderAnswer } from './channels/types.ts';
import type { Locale } from '../shared/locales.ts';

export interface CodeMessage {
  channel: Channel;
  recipient: string;
  purpose: OtpPurpose;
  subject: string | null;
  text: string;
  html: string | null;
  otp: string;
  expiresAt: Date;
  /** The otp_codes row of the code: the message is not sent once a newer code replaced it. */
  codeId?: string;
  locale?: Locale;
  /** When to send it (the road's timer); unset: now. */
  dueAt?: Date;
  /** The earlier message of its code whose delivery makes this one unneeded (delivery/road.ts). */
  waitsFor?: string;
}

/** The notification channel that tells every listening worker a message was committed. */
export const OUTBOX_NOTIFY_CHANNEL = 'panic_outbox';

/**
 * Writes a message in the caller's transaction: it exists exactly when the code does. Its code-bearing
 * columns are sealed (only the worker and the dev inbox open them). The NOTIFY is delivered at commit,
 * to every worker that listens, in this process or another.
 */
export async function enqueue(
  trx: Transaction<Database>,
  msg: CodeMessage,
  now: Date,
  seal: MessageSeal,
): Promise<string> {
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
      code_id: msg.codeId ?? null,
      locale: msg.locale ?? null,
      waits_for: msg.waitsFor ?? null,
      next_attempt_at: msg.dueAt ?? now,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('message_events')
    .values({ message_id: row.id, at: now, kind: 'queued', status: 'queued' })
    .execute();
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

/** A send that was tried: its provider, how long it took, and what the provider answered to a failure. */
export interface Attempt {
  provider: string | null;
  durationMs: number;
  answer?: ProviderAnswer;
}

/** `attempt` is absent when nothing was tried (a claim handed back unsent): then no event is written. */
export type Outcome =
  | { status: 'sent'; providerId: string | null; attempt?: Attempt }
  | { status: 'captured'; reason: string; attempt?: Attempt }
  | { status: 'failed'; reason: string; attempt?: Attempt }
  | { status: 'queued'; reason: string; retryAt: Date; attempt?: Attempt }
  | { status: 'suppressed'; reason: string }
  | { status: 'expired' }
  | { status: 'superseded' }
  | { status: 'withdrawn' };

/** The event that records an outcome, if any. Its error is the reason the outcome already keeps in last_error. */
function eventOf(outcome: Outcome, messageId: string, now: Date): NewMessageEvent | undefined {
  const base = { message_id: messageId, at: now, status: outcome.status };
  if (outcome.status === 'expired' || outcome.status === 'superseded' || outcome.status === 'withdrawn')
    return { ...base, kind: outcome.status };
  if (outcome.status === 'suppressed') return { ...base, kind: 'suppressed', error: outcome.reason.slice(0, 1000) };
  const { attempt } = outcome;
  if (!attempt) return undefined;
  const tried = { provider: attempt.provider, duration_ms: Math.round(attempt.durationMs) };
  if (outcome.status === 'sent') return { ...base, ...tried, kind: 'sent', provider_id: outcome.providerId };
  return {
    ...base,
    ...tried,
    kind: 'attempt_failed',
    error: outcome.reason.slice(0, 1000),
    provider_status: attempt.answer?.status ?? null,
    provider_code: attempt.answer?.code ?? null,
  };
}

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
  const event = eventOf(outcome, message.id, now);
  const redact = final && !keepBody ? { body_text: REDACTED, body_html: null, otp: null } : {};
  const update = db
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
    .returning('id');
  if (!event) return (await update.execute()).length === 1;
  // One statement: the event is written exactly when the update held, in its transaction.
  const columns = Object.keys(event) as Array<keyof NewMessageEvent>;
  const inserted = await db
    .with('held', () => update)
    .insertInto('message_events')
    .columns(columns)
    .expression((eb) =>
      eb
        .selectFrom('held')
        .select(columns.map((c) => (c === 'message_id' ? sql<string>`held.id`.as(c) : typed(c, event[c]).as(c)))),
    )
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows) === 1;
}

/** A parameter with its column's type: an INSERT … SELECT does not infer it. */
const EVENT_COLUMN_TYPES: Partial<Record<keyof NewMessageEvent, string>> = {
  at: 'timestamptz',
  provider_status: 'integer',
  duration_ms: 'integer',
};
const typed = (column: keyof NewMessageEvent, value: unknown) =>
  sql`cast(${value} as ${sql.raw(EVENT_COLUMN_TYPES[column] ?? 'text')})`;

/**
 * Whether a claimed message's code may still be sent: 'expired' once its code's time has passed,
 * 'superseded' once a newer code replaced it (or its code is gone), 'withdrawn' once it was used (a
 * later channel's message of a verified code), else null.
 */
export async function staleCode(
  db: Kysely<Database>,
  message: Pick<Message, 'expires_at' | 'code_id'>,
  now: Date,
): Promise<'expired' | 'superseded' | 'withdrawn' | null> {
  if (message.expires_at && message.expires_at.getTime() <= now.getTime()) return 'expired';
  if (!message.code_id) return null;
  const code = await db
    .selectFrom('otp_codes')
    .select('consumed_at')
    .where('id', '=', message.code_id)
    .executeTakeFirst();
  if (!code) return 'superseded';
  return code.consumed_at ? 'withdrawn' : null;
}

/** Messages still to be sent, of one channel or of all. */
export async function queueDepth(db: Kysely<Database>, channel?: Channel): Promise<number> {
  let query = db
    .selectFrom('messages')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('status', 'in', PENDING_STATUSES);
  if (channel) query = query.where('channel', '=', channel);
  return (await query.executeTakeFirstOrThrow()).n;
}
