import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database, Message } from '../platform/db/schema.ts';
import {
  PENDING_STATUSES,
  TEST_DESTINATION,
  type Channel,
  type MessageEventKind,
  type Notice,
  type OtpPurpose,
} from '../shared/vocabulary.ts';
import { addSeconds } from '../shared/clock.ts';
import type { MessageSeal } from './sealed-body.ts';
import type { ProviderAnswer, ProviderError } from './channels/types.ts';
import { EVENT_TEXT_MAX, keptProviderError } from './provider-error.ts';
import type { Locale } from '../shared/locales.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import type { Suppression } from './suppressions.ts';

interface MessageWords {
  /** The account it is sent for: its erasure finds the message by it. */
  userId: string;
  channel: Channel;
  recipient: string;
  subject: string | null;
  text: string;
  html: string | null;
  locale?: Locale;
}

interface CodeMessage extends MessageWords {
  purpose: OtpPurpose;
  otp: string;
  expiresAt: Date;
  /** The otp_codes row of the code: the message is not sent once a newer code replaced it. */
  codeId?: string;
  /** When to send it (the road's timer); unset: now. */
  dueAt?: Date;
  /** The earlier message of its code whose delivery makes this one unneeded (delivery/road.ts). */
  waitsFor?: string;
}

/** A message without a code: no otp, no expiry, no code_id, so the worker sends it whatever codes do. */
interface NoticeMessage extends MessageWords {
  purpose: Notice;
}

export type OutboxMessage = CodeMessage | NoticeMessage;

/** The notification channel that tells every listening worker a message was committed. */
export const OUTBOX_NOTIFY_CHANNEL = 'panic_outbox';

/**
 * Writes a message in the caller's transaction: it exists exactly when the code (or what a notice
 * tells of) does. Its code-bearing columns are sealed (only the worker and the dev inbox open them).
 * The NOTIFY is delivered at commit, to every worker that listens, in this process or another.
 */
export async function enqueue(
  trx: Transaction<Database>,
  msg: OutboxMessage,
  now: Date,
  seal: MessageSeal,
): Promise<string> {
  const id = await insertMessage(trx, msg, now, seal);
  await trx
    .insertInto('message_events')
    .values({ message_id: id, at: now, kind: 'queued', status: 'queued' })
    .execute();
  await sql`SELECT pg_notify(${OUTBOX_NOTIFY_CHANNEL}, ${msg.channel})`.execute(trx);
  return id;
}

/**
 * Writes a message that is not to be sent (a test destination's fixed code), in the caller's
 * transaction: final at once, `captured` with its reason and the event saying why, so that no worker
 * claims it, and no provider, road or timer ever sees it. Like every final message, it keeps its body
 * (sealed) only when `keepBody` (development, for the dev inbox).
 */
export async function recordUnsent(
  trx: Transaction<Database>,
  msg: CodeMessage,
  now: Date,
  seal: MessageSeal,
  why: { reason: string; kind: MessageEventKind; keepBody: boolean },
): Promise<string> {
  const reason = why.reason.slice(0, EVENT_TEXT_MAX);
  const id = await insertMessage(trx, msg, now, seal, {
    status: 'captured',
    last_error: reason,
    ...(why.keepBody ? {} : REDACTED_BODY),
  });
  await trx
    .insertInto('message_events')
    .values({ message_id: id, at: now, kind: why.kind, status: 'captured', error: reason })
    .execute();
  return id;
}

/** A new message's row, its code-bearing columns sealed; `final`: the state it is written in, when not queued. */
async function insertMessage(
  trx: Transaction<Database>,
  msg: OutboxMessage,
  now: Date,
  seal: MessageSeal,
  final?: { status: 'captured'; last_error: string } & Partial<typeof REDACTED_BODY>,
): Promise<string> {
  const code = 'otp' in msg ? msg : undefined;
  const sealed = seal.seal({
    channel: msg.channel,
    // an email in its normal form: the claim matches it against the suppression list as it is
    recipient: msg.channel === 'email' ? normalizeEmail(msg.recipient) : msg.recipient,
    purpose: msg.purpose,
    body_text: msg.text,
    body_html: msg.html,
    otp: code?.otp ?? null,
  });
  const row = await trx
    .insertInto('messages')
    .values({
      ...sealed,
      subject: msg.subject,
      expires_at: code?.expiresAt ?? null,
      code_id: code?.codeId ?? null,
      locale: msg.locale ?? null,
      waits_for: code?.waitsFor ?? null,
      user_id: msg.userId,
      next_attempt_at: code?.dueAt ?? now,
      created_at: now,
      updated_at: now,
      ...final,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * A claimed message, with what decides whether it may still be sent, read in the claim's own
 * statement right before the send: whether its code is still live, and the address's suppression.
 */
export type ClaimedMessage = Message & {
  /** False once a newer code replaced its code (or its code is gone); true for messages without a tracked code. */
  code_live: boolean;
  /** True once its code was used (a later channel's message of a verified phone code: not sent). */
  code_used: boolean;
  /** The address's suppression (emails only), when it has one. */
  suppression: Pick<Suppression, 'reason' | 'created_at'> | null;
};

/**
 * Claims up to `limit` due messages of one channel: queued ones whose time has come, and sending ones
 * whose lease ran out (their worker died). SKIP LOCKED lets several workers claim side by side without
 * sharing a row; each claim gets a new lease token, so a worker whose lease was taken over can no
 * longer record an outcome. `inFlight`: the ids the claiming worker is sending itself, which it does
 * not take over from itself when a send outlasts its lease (it would send them twice). The same
 * statement reads each message's live code and suppression, so a claim costs one round trip, not
 * three per message.
 */
export async function claimDue(
  db: Kysely<Database>,
  channel: Channel,
  now: Date,
  leaseSeconds: number,
  limit: number,
  inFlight: readonly string[] = [],
): Promise<ClaimedMessage[]> {
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
  const rows = await db
    .with('claimed', (db) =>
      db
        .updateTable('messages')
        .set((eb) => ({
          status: 'sending',
          attempts: eb('attempts', '+', 1),
          lease_until: addSeconds(now, leaseSeconds),
          lease_token: sql<string>`gen_random_uuid()`,
          updated_at: now,
        }))
        .where('id', 'in', due)
        .returningAll(),
    )
    .selectFrom('claimed')
    // enqueue() stores an email's recipient in its normal form, the form the suppression list keys on
    .leftJoin('suppressions', (join) =>
      join.onRef('suppressions.address', '=', 'claimed.recipient').on('claimed.channel', '=', 'email'),
    )
    .selectAll('claimed')
    .select((eb) => [
      eb
        .or([
          eb('claimed.code_id', 'is', null),
          eb.exists(eb.selectFrom('otp_codes').select('otp_codes.id').whereRef('otp_codes.id', '=', 'claimed.code_id')),
        ])
        .as('code_live'),
      eb
        .exists(
          eb
            .selectFrom('otp_codes')
            .select('otp_codes.id')
            .whereRef('otp_codes.id', '=', 'claimed.code_id')
            .where('otp_codes.consumed_at', 'is not', null),
        )
        .as('code_used'),
      'suppressions.reason as suppression_reason',
      'suppressions.created_at as suppressed_at',
    ])
    .execute();
  return rows.map(({ code_live, code_used, suppression_reason, suppressed_at, ...message }) => ({
    ...message,
    code_live: Boolean(code_live),
    code_used: Boolean(code_used),
    suppression:
      suppression_reason !== null && suppressed_at !== null
        ? { reason: suppression_reason, created_at: suppressed_at }
        : null,
  }));
}

const REDACTED = '[redacted after delivery]';
/** What a final message keeps of its body outside development: nothing that holds its code. */
export const REDACTED_BODY = { body_text: REDACTED, body_html: null, otp: null };

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

/** The columns of an outcome's event, but its message, time and status (the outcome's). */
interface OutcomeEvent {
  kind: MessageEventKind;
  provider?: string | null;
  error?: string;
  provider_status?: number | null;
  provider_code?: string | null;
  provider_error?: ProviderError | null;
  duration_ms?: number;
}

/** The event that records an outcome, if any. Its error is the reason the outcome already keeps in last_error. */
function eventOf(outcome: Outcome): OutcomeEvent | undefined {
  if (outcome.status === 'expired' || outcome.status === 'superseded' || outcome.status === 'withdrawn')
    return { kind: outcome.status };
  if (outcome.status === 'suppressed') return { kind: 'suppressed', error: outcome.reason.slice(0, EVENT_TEXT_MAX) };
  const { attempt } = outcome;
  if (!attempt) return undefined;
  const tried = { provider: attempt.provider, duration_ms: Math.round(attempt.durationMs) };
  if (outcome.status === 'sent') return { ...tried, kind: 'sent' };
  const original = attempt.answer?.original;
  return {
    ...tried,
    kind: 'attempt_failed',
    error: outcome.reason.slice(0, EVENT_TEXT_MAX),
    provider_status: attempt.answer?.status ?? null,
    provider_code: attempt.answer?.code ?? null,
    provider_error: original ? keptProviderError(original) : null,
  };
}

/** A claimed message's outcome, to be recorded by the claim that holds `lease_token`. */
export interface OutcomeOf {
  message: Pick<Message, 'id' | 'lease_token'>;
  outcome: Outcome;
}

/** At most this many outcomes in one statement. */
export const RECORD_BATCH = 100;

/**
 * Records what happened to claimed messages, each only if its `lease_token` still holds its claim:
 * true for those recorded, false for those whose lease ran out and another worker took over. Final
 * states drop the code-bearing body unless `keepBody` (development, where it stays sealed for the dev
 * inbox). One statement for all (a message at most once): each event is written exactly when its
 * message's update held, in the same transaction, and a backlog costs one commit per batch, not per message.
 */
export async function recordOutcomes(
  db: Kysely<Database>,
  outcomes: readonly OutcomeOf[],
  now: Date,
  keepBody: boolean,
): Promise<boolean[]> {
  if (!outcomes.length) return [];
  const rows = outcomes.map(({ message, outcome }) => {
    const event = eventOf(outcome);
    return {
      id: message.id,
      lease_token: message.lease_token,
      status: outcome.status,
      sent: outcome.status === 'sent',
      provider_id: outcome.status === 'sent' ? outcome.providerId : null,
      last_error: 'reason' in outcome ? outcome.reason.slice(0, EVENT_TEXT_MAX) : null,
      retry_at: outcome.status === 'queued' ? outcome.retryAt.toISOString() : null,
      redact: outcome.status !== 'queued' && !keepBody,
      kind: event?.kind ?? null,
      provider: event?.provider ?? null,
      error: event?.error ?? null,
      provider_status: event?.provider_status ?? null,
      provider_code: event?.provider_code ?? null,
      provider_error: event?.provider_error ?? null,
      duration_ms: event?.duration_ms ?? null,
    };
  });
  const at = sql`cast(${now} as timestamptz)`;
  const { rows: held } = await sql<{ id: string }>`
    WITH outcome AS (
      SELECT * FROM jsonb_to_recordset(cast(${JSON.stringify(rows)} as jsonb)) AS o(
        id uuid, lease_token uuid, status text, sent boolean, provider_id text, last_error text,
        retry_at timestamptz, redact boolean, kind text, provider text, error text,
        provider_status integer, provider_code text, provider_error jsonb, duration_ms integer)
    ),
    held AS (
      UPDATE messages m SET
        status = o.status,
        updated_at = ${at},
        lease_until = NULL,
        lease_token = NULL,
        provider_id = CASE WHEN o.sent THEN o.provider_id ELSE m.provider_id END,
        sent_at = CASE WHEN o.sent THEN ${at} ELSE m.sent_at END,
        last_error = CASE WHEN o.sent THEN NULL ELSE coalesce(o.last_error, m.last_error) END,
        next_attempt_at = coalesce(o.retry_at, m.next_attempt_at),
        body_text = CASE WHEN o.redact THEN ${REDACTED} ELSE m.body_text END,
        body_html = CASE WHEN o.redact THEN NULL ELSE m.body_html END,
        otp = CASE WHEN o.redact THEN NULL ELSE m.otp END
      FROM outcome o
      WHERE m.id = o.id AND m.status = 'sending' AND m.lease_token = o.lease_token
      RETURNING m.id
    ),
    events AS (
      INSERT INTO message_events (message_id, at, kind, status, provider, error, provider_status, provider_code,
        provider_error, duration_ms, provider_id)
      SELECT o.id, ${at}, o.kind, o.status, o.provider, o.error, o.provider_status, o.provider_code,
        o.provider_error, o.duration_ms, CASE WHEN o.sent THEN o.provider_id END
      FROM outcome o JOIN held ON held.id = o.id
      WHERE o.kind IS NOT NULL
    )
    SELECT id FROM held`.execute(db);
  const recorded = new Set(held.map((r) => r.id));
  return outcomes.map(({ message }) => recorded.has(message.id));
}

/** recordOutcomes for one message. */
export async function recordOutcome(
  db: Kysely<Database>,
  message: Pick<Message, 'id' | 'lease_token'>,
  outcome: Outcome,
  now: Date,
  keepBody: boolean,
): Promise<boolean> {
  const [held] = await recordOutcomes(db, [{ message, outcome }], now, keepBody);
  return held;
}

/**
 * Whether a claimed message's code may still be sent: 'expired' once its code's time has passed,
 * 'superseded' once a newer code replaced it (or its code is gone), 'withdrawn' once it was used (a
 * later channel's message of a verified code), else null.
 */
export function staleCode(
  message: Pick<ClaimedMessage, 'expires_at' | 'code_live' | 'code_used'>,
  now: Date,
): 'expired' | 'superseded' | 'withdrawn' | null {
  if (message.expires_at && message.expires_at.getTime() <= now.getTime()) return 'expired';
  if (!message.code_live) return 'superseded';
  return message.code_used ? 'withdrawn' : null;
}

/**
 * Per channel, the seconds its longest-waiting message has been due without a worker taking it:
 * queued since its attempt fell due, or `sending` since its lease ran out (its worker died). A
 * message waiting for its retry or its road's timer is not due yet; a channel with none due is left out.
 */
export async function oldestQueuedSeconds(db: Kysely<Database>, now: Date): Promise<Partial<Record<Channel, number>>> {
  const rows = await db
    .selectFrom('messages')
    .select([
      'channel',
      sql<Date>`min(CASE WHEN status = 'queued' THEN next_attempt_at ELSE lease_until END)`.as('since'),
    ])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'queued'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'sending'), eb('lease_until', '<', now)]),
      ]),
    )
    .groupBy('channel')
    .execute();
  return Object.fromEntries(
    rows.map((r) => [r.channel, Math.max(0, (now.getTime() - new Date(r.since).getTime()) / 1000)]),
  );
}

/**
 * The `verified` event of a code just used, for the caller's statement: on the message of `carriers`
 * (a condition on messages) that carried it last, the road's latest channel taken (a withdrawn or
 * still queued one never carried it), so that the delivery log and the health numbers know which
 * channel and provider a used code came by after its code row is gone (retention takes used codes).
 */
export const verifiedEvent = (carriers: RawBuilder<boolean>, now: Date) => sql`
  INSERT INTO message_events (message_id, at, kind, status)
  SELECT id, ${now}::timestamptz, ${sql.lit('verified' satisfies MessageEventKind)}, status FROM messages
  -- a test destination's fixed code carried by nothing: its use is test_code_used (otp/check-code.ts)
  WHERE ${carriers} AND (last_error IS DISTINCT FROM ${TEST_DESTINATION} OR status <> 'captured')
  ORDER BY status IN ('withdrawn', 'queued'), created_at DESC
  LIMIT 1`;

/** Messages still to be sent, of one channel or of all. */
export async function queueDepth(db: Kysely<Database>, channel?: Channel): Promise<number> {
  let query = db
    .selectFrom('messages')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('status', 'in', PENDING_STATUSES);
  if (channel) query = query.where('channel', '=', channel);
  return (await query.executeTakeFirstOrThrow()).n;
}
