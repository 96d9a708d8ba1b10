import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import type { Channel, MessageStatus } from '../shared/vocabulary.ts';
import type { LoggedMessage, MessageEvent } from '../contract/delivery-log.ts';
import type { Channels } from './channels/index.ts';
import type { BreakerState, FailoverChannel } from './channels/failover.ts';
import type { SettingState } from '../config/placeholders.ts';
import { queueDepth } from './outbox.ts';
import { diagnose } from './reasons.ts';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

const LOGGED = [
  'id',
  'channel',
  'recipient',
  'purpose',
  'status',
  'attempts',
  'last_error',
  'provider_id',
  'code_id',
  'created_at',
  'sent_at',
  'next_attempt_at',
] as const;

/** The delivery log: what happened to each message, with its events, never its body or code. */
export async function listDeliveryLog(
  db: Kysely<Database>,
  filter: { recipients?: string[]; owner?: MessageOwner; status?: MessageStatus; limit: number },
): Promise<LoggedMessage[]> {
  let q = db.selectFrom('messages').select(LOGGED).orderBy('created_at', 'desc').limit(filter.limit);
  if (filter.owner) q = q.where(ownedBy(filter.owner));
  if (filter.recipients?.length) {
    q = q.where(
      sql<string>`lower(recipient)`,
      'in',
      filter.recipients.map((r) => r.toLowerCase()),
    );
  }
  if (filter.status) q = q.where('status', '=', filter.status);
  return withEvents(db, await q.execute());
}

/** An account, as its messages are found. */
export interface MessageOwner {
  userId: string;
  /**
   * The addresses that are its own (lower-cased): those it proved and no other account has verified
   * since. A message without an owner to one of them is its; one to an address it only named (an
   * email change asked for, a number given at registration) may be anybody's.
   */
  own: readonly string[];
}

/**
 * The messages of an account: written for it (`user_id`), or, written before messages had an owner,
 * sent to one of its own addresses.
 */
export const ownedBy =
  ({ userId, own }: MessageOwner) =>
  (eb: ExpressionBuilder<Database, 'messages'>) =>
    eb.or([
      eb('user_id', '=', userId),
      ...(own.length ? [eb.and([eb('user_id', 'is', null), eb(sql<string>`lower(recipient)`, 'in', [...own])])] : []),
    ]);

/** One message of the delivery log, or undefined. */
export async function deliveryLogEntry(db: Kysely<Database>, id: string): Promise<LoggedMessage | undefined> {
  const row = await db.selectFrom('messages').select(LOGGED).where('id', '=', id).executeTakeFirst();
  return row && (await withEvents(db, [row]))[0];
}

type LoggedRow = Omit<LoggedMessage, 'created_at' | 'sent_at' | 'next_attempt_at' | 'events'> & {
  created_at: Date;
  sent_at: Date | null;
  next_attempt_at: Date;
};

/** The rows with their events, oldest first, each failed attempt with its diagnosis. */
async function withEvents(db: Kysely<Database>, rows: LoggedRow[]): Promise<LoggedMessage[]> {
  const events = new Map<string, MessageEvent[]>(rows.map((r) => [r.id, []]));
  if (rows.length) {
    const found = await db
      .selectFrom('message_events')
      .select([
        'message_id',
        'at',
        'kind',
        'status',
        'provider',
        'error',
        'provider_status',
        'provider_code',
        'provider_error',
        'duration_ms',
        'provider_id',
      ])
      .where('message_id', 'in', [...events.keys()])
      .orderBy('message_id')
      .orderBy('at')
      .orderBy('id')
      .execute();
    for (const { message_id, at, ...e } of found) {
      // A failed attempt, or a receipt of a failure (Twilio's 30007 comes as a receipt).
      const failed = e.kind === 'attempt_failed' || (e.kind === 'receipt' && e.error !== null);
      const diagnosis = failed
        ? diagnose(e.provider, { status: e.provider_status ?? undefined, code: e.provider_code ?? undefined })
        : null;
      events.get(message_id)!.push({ ...e, at: iso(at)!, diagnosis });
    }
  }
  return rows.map((r) => ({
    ...r,
    created_at: iso(r.created_at)!,
    sent_at: iso(r.sent_at),
    next_attempt_at: r.status === 'queued' ? iso(r.next_attempt_at) : null,
    events: events.get(r.id)!,
  }));
}

export interface ChannelState {
  channel: Channel;
  provider: string;
  state: 'configured' | 'placeholder' | 'missing';
  settings: Record<string, SettingState>;
  problem: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  queue_depth: number;
  /** With a second provider: each provider's circuit breaker. */
  breakers: BreakerState[] | null;
}

/** Per channel: is it configured, when did it last work, what went wrong last, and what waits. */
export async function deliveryState(db: Kysely<Database>, channels: Channels): Promise<ChannelState[]> {
  return Promise.all(
    (Object.keys(channels) as Channel[]).map(async (channel) => {
      const { provider } = channels[channel];
      const status = channels[channel].status();
      const [success, failure, depth] = await Promise.all([
        db
          .selectFrom('messages')
          .select(sql<Date | null>`max(sent_at)`.as('at'))
          .where('channel', '=', channel)
          .executeTakeFirst(),
        db
          .selectFrom('messages')
          .select(['last_error', 'updated_at'])
          .where('channel', '=', channel)
          .where('last_error', 'is not', null)
          .orderBy('updated_at', 'desc')
          .limit(1)
          .executeTakeFirst(),
        queueDepth(db, channel),
      ]);
      return {
        channel,
        provider,
        state: status.configured ? 'configured' : status.placeholders.length ? 'placeholder' : 'missing',
        settings: status.settings,
        problem: status.problem ?? null,
        last_success_at: iso(success?.at ?? null),
        last_error: failure?.last_error ?? null,
        last_error_at: iso(failure?.updated_at ?? null),
        queue_depth: depth,
        breakers: 'breakers' in channels[channel] ? (channels[channel] as FailoverChannel).breakers() : null,
      } satisfies ChannelState;
    }),
  );
}
