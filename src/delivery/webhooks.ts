import { sql, type Kysely, type Transaction } from 'kysely';
import type { AccountEventFacts, Database, WebhookStatus } from '../platform/db/schema.ts';
import type { WebhookEndpoint } from '../config/webhooks.ts';
import { webhookTypeOf, type AccountEventType } from '../shared/vocabulary.ts';
import { addSeconds } from '../shared/clock.ts';
import { EVENT_TEXT_MAX } from './provider-error.ts';

/**
 * The webhook outbox: the messages outbox's ideas (a row queued in the transaction of its change, a
 * claim under a lease token with SKIP LOCKED, retries with backoff, a NOTIFY at commit) in a table and
 * a worker of its own (webhook-worker.ts), so a receiver that hangs never holds up a code.
 *
 * One row per event and endpoint, written with the event: each endpoint has its own progress, retries
 * and backlog, so one that fails holds up no other, and nothing stands between the commit and the
 * row (a fan-out step after it could be lost in a crash). Endpoints added to WEBHOOK_URLS are sent the
 * events from then on; rows of one taken off it wait, unclaimed, until it is back or retention takes
 * them with their event.
 */

/** The notification that wakes every webhook worker when a delivery is committed. */
export const WEBHOOK_NOTIFY_CHANNEL = 'panic_webhooks';

/** Statuses of a delivery still to be made. */
export const PENDING_WEBHOOK_STATUSES = ['queued', 'sending'] as const satisfies readonly WebhookStatus[];

/**
 * Makes an account's webhook events take their place in the order they commit: two transactions
 * changing one account take this lock one after the other, so the later one's event, and its
 * deliveries, come after the earlier's (the worker delivers an account's events in that order).
 * Released at commit or rollback.
 */
export async function lockAccountOrder(trx: Transaction<Database>, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${WEBHOOK_LOCK_SPACE}, hashtext(${userId}))`.execute(trx);
}

/** The first key of the advisory lock above, so it never meets another lock of this database. */
const WEBHOOK_LOCK_SPACE = 22013;

/** Queues an event for every endpoint, in the event's transaction; the NOTIFY goes out at commit. */
export async function queueWebhooks(
  trx: Transaction<Database>,
  endpoints: readonly WebhookEndpoint[],
  event: { seq: string; userId: string },
  now: Date,
): Promise<void> {
  if (!endpoints.length) return;
  await trx
    .insertInto('webhook_deliveries')
    .values(
      endpoints.map((e) => ({
        event_seq: event.seq,
        user_id: event.userId,
        endpoint: e.name,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
    )
    .execute();
  await sql`SELECT pg_notify(${WEBHOOK_NOTIFY_CHANNEL}, '')`.execute(trx);
}

/** A claimed delivery with its event: what the request is made of. */
export interface ClaimedWebhook {
  id: string;
  lease_token: string;
  endpoint: string;
  attempts: number;
  created_at: Date;
  event: { id: string; user_id: string; type: AccountEventType; at: Date; facts: AccountEventFacts };
}

/**
 * Claims up to `limit` due deliveries to one endpoint, each the oldest pending one of its account:
 * an account's next event is not tried while an earlier one waits for its retry or is being sent,
 * so a receiver gets each account's events in order. A due one is queued and its time has come, or
 * sending and its lease ran out (its worker died). SKIP LOCKED lets workers claim side by side;
 * `inFlight`, the ids this worker is sending itself, are not taken over from itself (nor are their
 * accounts' later events).
 */
export async function claimWebhooks(
  db: Kysely<Database>,
  endpoint: string,
  now: Date,
  leaseSeconds: number,
  limit: number,
  inFlight: readonly string[] = [],
): Promise<ClaimedWebhook[]> {
  const at = sql`cast(${now} as timestamptz)`;
  const notMine = inFlight.length ? sql`AND d.id NOT IN (${sql.join(inFlight)})` : sql``;
  const { rows } = await sql<{
    id: string;
    lease_token: string;
    endpoint: string;
    attempts: number;
    created_at: Date;
    event_id: string;
    user_id: string;
    type: AccountEventType;
    at: Date;
    facts: AccountEventFacts;
  }>`
    WITH heads AS (
      SELECT DISTINCT ON (user_id) id FROM webhook_deliveries
      WHERE endpoint = ${endpoint} AND status IN ('queued', 'sending')
      ORDER BY user_id, event_seq
    ),
    due AS (
      SELECT d.id FROM webhook_deliveries d
      WHERE d.id IN (SELECT id FROM heads)
        AND ((d.status = 'queued' AND d.next_attempt_at <= ${at}) OR (d.status = 'sending' AND d.lease_until < ${at}))
        ${notMine}
      ORDER BY d.next_attempt_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
      UPDATE webhook_deliveries w SET
        status = 'sending',
        attempts = w.attempts + 1,
        lease_until = ${addSeconds(now, leaseSeconds)},
        lease_token = gen_random_uuid(),
        updated_at = ${at}
      FROM due WHERE w.id = due.id
      RETURNING w.id, w.lease_token, w.endpoint, w.attempts, w.created_at, w.event_seq
    )
    SELECT c.id, c.lease_token, c.endpoint, c.attempts, c.created_at,
      e.id AS event_id, e.user_id, e.type, e.at, e.facts
    FROM claimed c JOIN account_events e ON e.seq = c.event_seq
    ORDER BY c.event_seq`.execute(db);
  return rows.map(({ event_id, user_id, type, at, facts, ...d }) => ({
    ...d,
    created_at: new Date(d.created_at),
    event: { id: event_id, user_id, type, at: new Date(at), facts },
  }));
}

/** What became of a request: delivered, to be tried again at retryAt, or given up. */
export type WebhookOutcome =
  | { status: 'delivered' }
  | { status: 'queued'; reason: string; retryAt: Date }
  | { status: 'failed'; reason: string };

/**
 * Records a request's outcome, only while `lease_token` still holds the claim: false when the lease
 * ran out and another worker took the delivery over (it sends it again: at least once).
 */
export async function recordWebhookOutcome(
  db: Kysely<Database>,
  delivery: Pick<ClaimedWebhook, 'id' | 'lease_token'>,
  outcome: WebhookOutcome,
  now: Date,
): Promise<boolean> {
  const failure =
    outcome.status === 'delivered' ? {} : { last_error: outcome.reason.slice(0, EVENT_TEXT_MAX), last_error_at: now };
  const result = await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome.status,
      lease_until: null,
      lease_token: null,
      updated_at: now,
      ...failure,
      ...(outcome.status === 'delivered' ? { delivered_at: now } : {}),
      ...(outcome.status === 'queued' ? { next_attempt_at: outcome.retryAt } : {}),
    })
    .where('id', '=', delivery.id)
    .where('status', '=', 'sending')
    .where('lease_token', '=', delivery.lease_token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The body platform services are sent, as Standard Webhooks shapes it: the type, the event's time,
 * and the data (the account's id and the event's facts). The same bytes on every attempt.
 */
export function webhookBody(event: ClaimedWebhook['event']): string {
  return JSON.stringify({
    type: webhookTypeOf(event.type) ?? event.type,
    timestamp: event.at.toISOString(),
    data: { user_id: event.user_id, ...event.facts },
  });
}

/** An endpoint's deliveries waiting (queued or sending), and since when the oldest waits. */
export interface WebhookBacklog {
  endpoint: string;
  backlog: number;
  oldest_pending_at: Date | null;
}

/** Every endpoint with deliveries waiting, and each of `endpoints` (with none waiting: 0). */
export async function webhookBacklogs(
  db: Kysely<Database>,
  endpoints: readonly WebhookEndpoint[],
): Promise<WebhookBacklog[]> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['endpoint', sql<number>`count(*)::int`.as('backlog'), sql<Date>`min(created_at)`.as('oldest')])
    .where('status', 'in', PENDING_WEBHOOK_STATUSES)
    .groupBy('endpoint')
    .execute();
  const found = new Map(rows.map((r) => [r.endpoint, r]));
  const names = [...new Set([...endpoints.map((e) => e.name), ...found.keys()])];
  return names.map((endpoint) => {
    const row = found.get(endpoint);
    return { endpoint, backlog: row?.backlog ?? 0, oldest_pending_at: row ? new Date(row.oldest) : null };
  });
}

/** An endpoint as the admin's delivery state shows it. */
export interface WebhookEndpointState {
  endpoint: string;
  /** In WEBHOOK_URLS now: rows of an endpoint taken off it wait, unsent. */
  configured: boolean;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  backlog: number;
  oldest_pending_at: string | null;
}

/** Per endpoint: when it last took a delivery, when and why it last refused one, and what waits for it. */
export async function webhookEndpointStates(
  db: Kysely<Database>,
  endpoints: readonly WebhookEndpoint[],
): Promise<WebhookEndpointState[]> {
  const configured = new Set(endpoints.map((e) => e.name));
  return Promise.all(
    (await webhookBacklogs(db, endpoints)).map(async ({ endpoint, backlog, oldest_pending_at }) => {
      const [success, failure] = await Promise.all([
        db
          .selectFrom('webhook_deliveries')
          .select('delivered_at')
          .where('endpoint', '=', endpoint)
          .where('delivered_at', 'is not', null)
          .orderBy('delivered_at', 'desc')
          .limit(1)
          .executeTakeFirst(),
        db
          .selectFrom('webhook_deliveries')
          .select(['last_error', 'last_error_at'])
          .where('endpoint', '=', endpoint)
          .where('last_error_at', 'is not', null)
          .orderBy('last_error_at', 'desc')
          .limit(1)
          .executeTakeFirst(),
      ]);
      return {
        endpoint,
        configured: configured.has(endpoint),
        last_success_at: success?.delivered_at?.toISOString() ?? null,
        last_failure_at: failure?.last_error_at?.toISOString() ?? null,
        last_error: failure?.last_error ?? null,
        backlog,
        oldest_pending_at: oldest_pending_at?.toISOString() ?? null,
      };
    }),
  );
}
