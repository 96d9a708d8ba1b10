import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Channel, MessageStatus } from '../vocabulary.ts';
import type { Channels } from './channels/index.ts';
import type { SettingState } from '../placeholders.ts';
import { queueDepth } from './outbox.ts';

export interface LoggedMessage {
  id: string;
  channel: Channel;
  recipient: string;
  purpose: string;
  status: MessageStatus;
  attempts: number;
  last_error: string | null;
  provider_id: string | null;
  created_at: string;
  sent_at: string | null;
  next_attempt_at: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** The delivery log: what happened to each message, never its body or code. */
export async function listDeliveryLog(
  db: Kysely<Database>,
  filter: { recipients?: string[]; status?: MessageStatus; limit: number },
): Promise<LoggedMessage[]> {
  let q = db
    .selectFrom('messages')
    .select(['id', 'channel', 'recipient', 'purpose', 'status', 'attempts', 'last_error', 'provider_id', 'created_at', 'sent_at', 'next_attempt_at'])
    .orderBy('created_at', 'desc')
    .limit(filter.limit);
  if (filter.recipients?.length) {
    q = q.where(sql<string>`lower(recipient)`, 'in', filter.recipients.map((r) => r.toLowerCase()));
  }
  if (filter.status) q = q.where('status', '=', filter.status);
  const rows = await q.execute();
  return rows.map((r) => ({
    ...r,
    created_at: iso(r.created_at)!,
    sent_at: iso(r.sent_at),
    next_attempt_at: r.status === 'queued' ? iso(r.next_attempt_at) : null,
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
}

/** Per channel: is it configured, when did it last work, what went wrong last, and what waits. */
export async function deliveryState(db: Kysely<Database>, channels: Channels): Promise<ChannelState[]> {
  return Promise.all(
    (Object.keys(channels) as Channel[]).map(async (channel) => {
      const { provider } = channels[channel];
      const status = channels[channel].status();
      const [success, failure, depth] = await Promise.all([
        db.selectFrom('messages').select(sql<Date | null>`max(sent_at)`.as('at')).where('channel', '=', channel).executeTakeFirst(),
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
      } satisfies ChannelState;
    }),
  );
}
