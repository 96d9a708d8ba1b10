import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Config } from '../../config/settings.ts';
import type { Database } from './schema.ts';
import { PENDING_STATUSES } from '../../shared/vocabulary.ts';

/**
 * What the service keeps and for how long: the one list of rules, applied by the worker's
 * maintenance every 10 minutes and by `panic-api prune`. The order counts rows before a cascade
 * takes them (an expired account's codes are counted as codes), so a dry run counts what a run removes.
 */
export const RETENTION_TABLES = [
  'messages',
  'refresh_tokens',
  'sessions',
  'otp_codes',
  'otp_long_codes',
  'login_failures',
  'webhook_deliveries',
  'account_events',
  'users',
] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];
export type RetentionCounts = Record<RetentionTable, number>;
export type RetentionSettings = Pick<
  Config,
  'MESSAGE_RETENTION_DAYS' | 'UNVERIFIED_ACCOUNT_TTL_HOURS' | 'ACCOUNT_EVENT_RETENTION_DAYS'
>;

/** Rows per DELETE: each statement is short, so a year's backlog never holds a lock for long. */
export const BATCH = 1000;
const DAY_MS = 86_400_000;

interface Rule {
  /** The primary key a batch is deleted by. */
  key: string;
  /** What goes, in words (prune's table). */
  what(s: RetentionSettings): string;
  /** The rows that go. */
  where(now: Date, s: RetentionSettings): RawBuilder<boolean>;
  /** The index that finds them (migrations 0003, 0005, 0009, 0013 and 0014; users: 0002), so no batch reads a whole table. */
  index: string;
}

const before = (now: Date, ms: number): Date => new Date(now.getTime() - ms);

export const RULES: Record<RetentionTable, Rule> = {
  messages: {
    key: 'id',
    index: 'messages_final_idx',
    what: (s) =>
      `final (not ${PENDING_STATUSES.join(' or ')}) for more than MESSAGE_RETENTION_DAYS (${s.MESSAGE_RETENTION_DAYS} days)`,
    // The pending statuses as literals, as in messages_final_idx's predicate, so the planner may use it; queued and sending never go.
    where: (now, s) =>
      sql`status NOT IN (${sql.join(PENDING_STATUSES.map((x) => sql.lit(x)))}) AND updated_at < ${before(now, s.MESSAGE_RETENTION_DAYS * DAY_MS)}`,
  },
  refresh_tokens: {
    key: 'token_hash',
    index: 'refresh_tokens_dead_idx',
    what: () => 'used or expired more than a day ago',
    // The token in use (unused, unexpired) stays; a used one stays a day, so a replay within it still ends its session.
    where: (now) => sql`least(used_at, expires_at) < ${before(now, DAY_MS)}`,
  },
  sessions: {
    key: 'id',
    index: 'sessions_dead_idx',
    what: () =>
      'logged out or expired (its newest refresh token) more than a day ago; their refresh tokens go with them',
    // By then each of its refresh tokens is dead for a day too, so no replay could still be recognised.
    where: (now) => sql`least(revoked_at, expires_at) < ${before(now, DAY_MS)}`,
  },
  otp_codes: {
    key: 'id',
    index: 'otp_codes_dead_idx',
    what: () => 'used or expired, unless the row still counts wrong guesses of today (OTP_MAX_FAILURES_PER_DAY)',
    // The row also carries the (user, purpose) wrong-guess budget (store.ts), counted while
    // failures_since is within its day: that row stays, or a new code would come with a fresh budget.
    where: (now) =>
      sql`least(consumed_at, expires_at) < ${now} AND (failures = 0 OR failures_since IS NULL OR failures_since <= ${before(now, DAY_MS)})`,
  },
  otp_long_codes: {
    key: 'id',
    index: 'otp_long_codes_expires_idx',
    what: () => 'expired (an hour after their email); a used one goes at once',
    where: (now) => sql`expires_at < ${now}`,
  },
  login_failures: {
    key: 'email',
    index: 'login_failures_updated_idx',
    what: () => 'not updated for a day and not blocking: the login throttle has forgotten them',
    // recordLoginFailure starts over once updated_at is more than a day old, and a block is over within an hour.
    where: (now) => sql`updated_at < ${before(now, DAY_MS)} AND (blocked_until IS NULL OR blocked_until <= ${now})`,
  },
  webhook_deliveries: {
    key: 'id',
    index: 'webhook_deliveries_final_idx',
    what: (s) =>
      `webhook deliveries delivered or given up for more than MESSAGE_RETENTION_DAYS (${s.MESSAGE_RETENTION_DAYS} days)`,
    // the pending statuses as literals, as in the index's predicate
    where: (now, s) =>
      sql`status NOT IN ('queued', 'sending') AND updated_at < ${before(now, s.MESSAGE_RETENTION_DAYS * DAY_MS)}`,
  },
  account_events: {
    key: 'seq',
    index: 'account_events_at_idx',
    what: (s) =>
      `account events older than ACCOUNT_EVENT_RETENTION_DAYS (${s.ACCOUNT_EVENT_RETENTION_DAYS} days), unless a webhook of theirs still waits`,
    // a webhook still waiting is never lost to retention: its event stays until it is delivered or given up
    where: (now, s) =>
      sql`at < ${before(now, s.ACCOUNT_EVENT_RETENTION_DAYS * DAY_MS)} AND NOT EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.event_seq = account_events.seq AND w.status IN ('queued', 'sending'))`,
  },
  users: {
    key: 'id',
    index: 'users_unverified_idx',
    what: (s) =>
      `accounts never verified within UNVERIFIED_ACCOUNT_TTL_HOURS (${s.UNVERIFIED_ACCOUNT_TTL_HOURS} h) of their last registration`,
    where: (now, s) =>
      sql`email_verified_at IS NULL AND created_at < ${before(now, s.UNVERIFIED_ACCOUNT_TTL_HOURS * 3_600_000)}`,
  },
};

export interface RetentionRun {
  /** Count what would go, remove nothing. */
  dryRun?: boolean;
  /** Checked between batches (shutdown): what is left waits for the next run. */
  signal?: AbortSignal;
  /** After each batch removed (the metric). */
  onRemoved?(table: RetentionTable, rows: number): void;
  /**
   * Run in each batch's transaction with the keys it removed, for the tables named: what must be
   * written exactly when rows go (an account removed is an event, and a webhook, of its own).
   */
  alongside?: Partial<Record<RetentionTable, (trx: Transaction<Database>, keys: string[]) => Promise<void>>>;
}

/** Applies every rule as of `now`; the rows removed (or, dry, that would be) per table. */
export async function applyRetention(
  db: Kysely<Database>,
  settings: RetentionSettings,
  now: Date,
  run: RetentionRun = {},
): Promise<RetentionCounts> {
  const counts = Object.fromEntries(RETENTION_TABLES.map((t) => [t, 0])) as RetentionCounts;
  for (const table of RETENTION_TABLES) {
    const where = RULES[table].where(now, settings);
    counts[table] = run.dryRun ? await countRows(db, table, where) : await deleteInBatches(db, table, where, run);
  }
  return counts;
}

async function countRows(db: Kysely<Database>, table: RetentionTable, where: RawBuilder<boolean>): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${where}`.execute(
    db,
  );
  return rows[0].n;
}

/** The primary keys of the next batch, found through the rule's index. */
export function batchKeys(table: RetentionTable, where: RawBuilder<boolean>) {
  const key = sql.ref(RULES[table].key);
  // SKIP LOCKED: a row a request holds right now waits for the next run rather than making this one wait.
  return sql`SELECT ${key} FROM ${sql.table(table)} WHERE ${where} LIMIT ${sql.lit(BATCH)} FOR UPDATE SKIP LOCKED`;
}

/** Deletes a batch at a time until a batch comes back short. */
async function deleteInBatches(
  db: Kysely<Database>,
  table: RetentionTable,
  where: RawBuilder<boolean>,
  run: RetentionRun,
): Promise<number> {
  let removed = 0;
  const alongside = run.alongside?.[table];
  while (!run.signal?.aborted) {
    const key = sql.ref(RULES[table].key);
    const remove = sql<{ key: string }>`DELETE FROM ${sql.table(table)} WHERE ${key} IN (${batchKeys(table, where)})`;
    const n = alongside
      ? await db.transaction().execute(async (trx) => {
          const { rows } = await sql<{ key: string }>`${remove} RETURNING ${key} AS key`.execute(trx);
          await alongside(
            trx,
            rows.map((r) => r.key),
          );
          return rows.length;
        })
      : Number((await remove.execute(db)).numAffectedRows ?? 0n);
    removed += n;
    if (n) run.onRemoved?.(table, n);
    if (n < BATCH) break;
  }
  return removed;
}
