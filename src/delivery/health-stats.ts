import { sql } from 'kysely';
import type { Services } from '../runtime/services.ts';
import { HEALTH_RANGES, type HealthRange, type HealthStats } from '../contract/health-stats.ts';
import { callingCodeOfPrefix } from '../shared/addresses.ts';
import { PENDING_STATUSES, type Channel } from '../shared/vocabulary.ts';
import { deliveryState } from './delivery-log.ts';

type Series = HealthStats['series'][number];

/**
 * Delivery health from the database alone (the console works without Prometheus): per bucket of the
 * range, codes queued and used per channel, provider and calling code; each channel's state with its
 * breakers and queue; the oldest message still waiting.
 */
export async function healthStats(
  deps: Pick<Services, 'db' | 'clock' | 'channels'>,
  range: HealthRange,
): Promise<HealthStats> {
  const { buckets: count, seconds } = HEALTH_RANGES[range];
  const now = deps.clock();
  const step = seconds * 1000;
  // whole UTC hours or days, the last one holding now
  const end = Math.floor(now.getTime() / step) * step + step;
  const from = new Date(end - count * step);
  const [rows, channels, oldest] = await Promise.all([
    countsBySlot(deps, from, new Date(end), seconds),
    deliveryState(deps.db, deps.channels),
    deps.db
      .selectFrom('messages')
      .select(['channel', sql<Date>`min(created_at)`.as('at')])
      .where('status', 'in', PENDING_STATUSES)
      .groupBy('channel')
      .execute(),
  ]);
  const series = new Map<string, Series>();
  for (const row of rows) {
    const calling = row.prefix === null ? null : callingCodeOfPrefix(row.prefix);
    const key = `${row.channel}|${row.provider}|${calling}`;
    let s = series.get(key);
    if (!s) {
      s = {
        channel: row.channel,
        provider: row.provider,
        calling_code: calling,
        issued: Array(count).fill(0),
        verified: Array(count).fill(0),
      };
      series.set(key, s);
    }
    s.issued[row.slot] += row.issued;
    s.verified[row.slot] += row.verified;
  }
  const oldestOf = new Map(oldest.map((o) => [o.channel, new Date(o.at)]));
  const first = Math.min(...[...oldestOf.values()].map((d) => d.getTime()));
  return {
    range,
    bucket_seconds: seconds,
    buckets: Array.from({ length: count }, (_, i) => new Date(from.getTime() + i * step).toISOString()),
    series: [...series.values()].sort(
      (a, b) => sum(b.issued) - sum(a.issued) || `${a.channel}${a.provider}`.localeCompare(`${b.channel}${b.provider}`),
    ),
    channels: channels.map((c) => ({
      channel: c.channel,
      provider: c.provider,
      state: c.state,
      problem: c.problem,
      last_success_at: c.last_success_at,
      last_error: c.last_error,
      last_error_at: c.last_error_at,
      queue_depth: c.queue_depth,
      oldest_queued_at: oldestOf.get(c.channel)?.toISOString() ?? null,
      breakers: c.breakers,
    })),
    queue: {
      depth: channels.reduce((n, c) => n + c.queue_depth, 0),
      oldest_queued_at: Number.isFinite(first) ? new Date(first).toISOString() : null,
      oldest_age_seconds: Number.isFinite(first) ? Math.max(0, Math.round((now.getTime() - first) / 1000)) : null,
    },
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface SlotRow {
  slot: number;
  channel: Channel;
  provider: string | null;
  /** A number's first four characters (its calling code is among them); null for email. */
  prefix: string | null;
  issued: number;
  verified: number;
}

/**
 * Messages queued in [from, to), counted per slot, channel, provider and number prefix, and those of
 * them that carried a code that was then used (their `verified` event). The provider is that of the
 * message's latest event that names one (its send, its failure, its receipt).
 */
async function countsBySlot(deps: Pick<Services, 'db'>, from: Date, to: Date, seconds: number): Promise<SlotRow[]> {
  const { rows } = await slotCounts(from, to, seconds).execute(deps.db);
  return rows;
}

/** The query of countsBySlot (its plan is tested: it reads the range through messages_created_idx). */
export const slotCounts = (from: Date, to: Date, seconds: number) => sql<SlotRow>`
    SELECT floor(extract(epoch FROM (m.created_at - ${from}::timestamptz)) / ${seconds})::int AS slot,
      m.channel,
      p.provider,
      CASE WHEN m.channel = 'email' THEN NULL ELSE left(m.recipient, 4) END AS prefix,
      count(*)::int AS issued,
      count(*) FILTER (WHERE EXISTS (
        SELECT 1 FROM message_events v WHERE v.message_id = m.id AND v.kind = 'verified'
      ))::int AS verified
    FROM messages m
    LEFT JOIN LATERAL (
      SELECT e.provider FROM message_events e
      WHERE e.message_id = m.id AND e.provider IS NOT NULL
      ORDER BY e.at DESC, e.id DESC LIMIT 1
    ) p ON true
    WHERE m.created_at >= ${from} AND m.created_at < ${to} AND m.status <> 'withdrawn'
    GROUP BY 1, 2, 3, 4`;
