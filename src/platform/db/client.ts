import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
/** The database or a transaction on it: what a query that may run inside a caller's transaction takes. */
export type Queryable = Kysely<Database> | Transaction<Database>;

export interface DbOptions {
  /** postgres://… for a server; unset for the embedded PGlite. */
  url?: string;
  /** PGlite data folder; 'memory://' keeps it in memory (tests). */
  dataDir?: string;
  /** A migrated database's dumpDataDir() that a 'memory://' one starts from, skipping initdb (tests). */
  template?: Blob;
  /** The longest wait for the server: for a connection, and for a query's answer. */
  timeoutMs?: number;
  /** An idle server connection failed (restart, failover, terminated): the pool replaces it. */
  onIdleError?: (err: Error) => void;
}

export interface DbHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Where the data lives, for logs and doctor (the server URL without its password). */
  location: string;
  /** Calls onNotify for every NOTIFY on channel, from any process; answers the unsubscribe. */
  listen(channel: string, onNotify: (payload?: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Each driver is loaded when it is chosen: pg and PGlite each take megabytes that the other kind never uses. */
export async function openDatabase(opts: DbOptions): Promise<DbHandle> {
  if (opts.url) {
    const [{ createPgPool }, { listenOnServer }] = await Promise.all([import('./pg-pool.ts'), import('./listen.ts')]);
    const pool = createPgPool({ url: opts.url, timeoutMs: opts.timeoutMs ?? 5000, onIdleError: opts.onIdleError });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const url = opts.url;
    const listen = (channel: string, onNotify: (payload?: string) => void) =>
      listenOnServer(url, channel, onNotify, (err) => opts.onIdleError?.(err));
    return { db, kind: 'postgres', location: redactUrl(url), listen, close: () => db.destroy() };
  }
  const dataDir = opts.dataDir ?? './data';
  const { openPglite } = await import('./pglite.ts');
  const client = await openPglite(dataDir, opts.template);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  // One process holds PGlite, so its own notifications are all there is to hear.
  const listen = (channel: string, onNotify: (payload?: string) => void) =>
    client.listen(channel, (payload) => onNotify(payload));
  return { db, kind: 'pglite', location: dataDir, listen, close: () => db.destroy() };
}

export async function ping(db: Db): Promise<void> {
  await sql`SELECT 1`.execute(db);
}

/** A server URL without its password, for logs and doctor. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL (unparseable)';
  }
}
