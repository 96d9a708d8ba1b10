import { sql, type Transaction } from 'kysely';
import type { Services } from '../runtime/services.ts';
import type { AccountEventFacts, Database } from '../platform/db/schema.ts';
import type { Queryable } from '../platform/db/client.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { webhookTypeOf, type AccountEventType, type Actor } from '../shared/vocabulary.ts';
import { AppError } from '../shared/errors.ts';
import { isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { isUuid } from '../shared/ids.ts';
import { lockAccountOrder, queueWebhooks } from '../delivery/webhooks.ts';
import type { AccountEvent, AccountEventPage } from '../contract/account-events.ts';
import { findUserByAddress } from './users.ts';

/** A change of an account, as the flow that makes it tells it. */
export interface AccountEventInput {
  userId: string;
  type: AccountEventType;
  actor: Actor;
  /** Who asked (their network and user agent); none for a change the service makes on its own. */
  requester?: Requester;
  /** Ids and facts (an address, how a sign-in went), never a code, a password or a token. */
  facts?: AccountEventFacts;
  at: Date;
}

/**
 * Writes an account's event in the transaction of the change it records, so it exists exactly when
 * the change does; for the kinds platform services are told of, with a webhook delivery per endpoint
 * (delivery/webhooks.ts), in the order the account's changes commit.
 */
export async function recordAccountEvent(
  trx: Transaction<Database>,
  deps: Pick<Services, 'config'>,
  event: AccountEventInput,
): Promise<void> {
  const endpoints = webhookTypeOf(event.type) ? deps.config.WEBHOOK_URLS : [];
  if (endpoints.length) await lockAccountOrder(trx, event.userId);
  const { seq } = await trx
    .insertInto('account_events')
    .values({
      user_id: event.userId,
      type: event.type,
      actor: event.actor,
      at: event.at,
      network: event.requester?.network ?? null,
      user_agent: event.requester?.userAgent ?? null,
      facts: JSON.stringify(event.facts ?? {}),
    })
    .returning('seq')
    .executeTakeFirstOrThrow();
  await queueWebhooks(trx, endpoints, { seq, userId: event.userId }, event.at);
}

/**
 * The writes of `events` for an account, made and rolled back (to a savepoint): a sign-in refused for
 * an email with no account costs what one refused for a known account costs, so its time says nothing.
 */
export async function rehearseAccountEvents(
  trx: Transaction<Database>,
  deps: Pick<Services, 'config'>,
  events: Omit<AccountEventInput, 'userId'>[],
): Promise<void> {
  await sql`SAVEPOINT rehearsal`.execute(trx);
  for (const event of events)
    await recordAccountEvent(trx, deps, { ...event, userId: '00000000-0000-0000-0000-000000000000' });
  await sql`ROLLBACK TO SAVEPOINT rehearsal`.execute(trx);
}

/** Whether an account has signed in from this network before (a sign-in from a new one is worth telling). */
export async function knownNetwork(db: Queryable, userId: string, network: string): Promise<boolean> {
  const row = await db
    .selectFrom('account_events')
    .select('seq')
    .where('user_id', '=', userId)
    .where('type', '=', 'login_succeeded')
    .where('network', '=', network)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export interface EventFilter {
  userId?: string;
  type?: AccountEventType;
  /** Only events at or after it. */
  since?: Date;
  /** The next_cursor of the page before. */
  cursor?: string;
  limit: number;
}

/**
 * A page of the event log, newest first, by keyset: the cursor is the last event's time (to the
 * microsecond, as stored) and sequence, so a page never skips or repeats an event while new ones
 * arrive, and costs the same however deep it is.
 */
export async function listAccountEvents(db: Queryable, filter: EventFilter): Promise<AccountEventPage> {
  const after = filter.cursor === undefined ? undefined : readCursor(filter.cursor);
  const rows = await db
    .selectFrom('account_events')
    .select([
      'seq',
      'id',
      'user_id',
      'type',
      'actor',
      'at',
      'network',
      'user_agent',
      'facts',
      sql<string>`to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('at_exact'),
    ])
    .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId!))
    .$if(filter.type !== undefined, (q) => q.where('type', '=', filter.type!))
    .$if(filter.since !== undefined, (q) => q.where('at', '>=', filter.since!))
    .$if(after !== undefined, (q) =>
      q.where(sql<boolean>`(at, seq) < (cast(${after!.at} as timestamptz), cast(${after!.seq} as bigint))`),
    )
    .orderBy('at', 'desc')
    .orderBy('seq', 'desc')
    .limit(filter.limit + 1)
    .execute();
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return {
    events: page.map(
      ({ seq, at_exact, at, ...e }): AccountEvent => ({ ...e, at: new Date(at).toISOString(), facts: e.facts }),
    ),
    next_cursor: rows.length > filter.limit && last ? writeCursor(last.at_exact, last.seq) : null,
  };
}

const writeCursor = (at: string, seq: string) => Buffer.from(`${at}|${seq}`).toString('base64url');

function readCursor(cursor: string): { at: string; seq: string } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)\|(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m)
    throw new AppError('validation_error', 'Invalid "cursor": send the next_cursor of the page before, unchanged.');
  return { at: m[1], seq: m[2] };
}

/**
 * The account whose events support asks for: by its id (an account deleted since is still found by
 * it), its email address, or its phone number; undefined when no account has it.
 */
export async function eventAccountId(deps: Pick<Services, 'db' | 'config'>, user: string): Promise<string | undefined> {
  const value = user.trim();
  if (isUuid(value)) return value.toLowerCase();
  const destination = isEmailAddress(value)
    ? normalizeEmail(value)
    : normalizePhone(value, deps.config.DEFAULT_PHONE_REGION);
  return (await findUserByAddress(deps.db, destination))?.id;
}
