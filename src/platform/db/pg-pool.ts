import pg from 'pg';

export interface PgPoolOptions {
  url: string;
  /** The longest wait for a connection, and for a query's answer (DB_QUERY_TIMEOUT_MS). */
  timeoutMs: number;
  /** An idle connection failed (restart, failover, network): the pool has dropped it already. */
  onIdleError?: (err: Error) => void;
}

/** pg's error when a query's answer did not come within query_timeout. */
const READ_TIMEOUT = 'Query read timeout';

/** pg's Client, made safe to lose its server. */
class OutageSafeClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // Checked out, a client has no pool listener, and a dropped connection would be an unhandled
    // 'error' event: the process dies. The query in flight fails with the same error, and the pool
    // discards the client when it comes back.
    this.on('error', () => {});
  }

  // pg's query() has many overloads; this adds to all of them alike.
  override query(...args: any[]): any {
    const result = (super.query as (...a: any[]) => any)(...args);
    if (typeof result?.catch === 'function') {
      // pg gives up waiting but keeps the connection, its lost query still in front of the next
      // one: back in the pool it would fail every query after it. Closing it now (this runs before
      // the caller sees the error) makes the pool discard it on release.
      result.catch((err: Error) => {
        if (err?.message === READ_TIMEOUT) void this.end();
      });
    }
    return result;
  }
}

/** A pool whose every wait on the server ends, and which outlives the server going away. */
export function createPgPool(opts: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: 10,
    Client: OutageSafeClient,
    // Waiting for a connection (a new one, or a busy pool's next free one), then for the answer.
    // statement_timeout is not set: the server needs no say in how long we wait, and a pooler such
    // as PgBouncer refuses it as a startup parameter.
    connectionTimeoutMillis: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
    // The OS probes connections idle for 10 s, so a server that vanished without a word (failover,
    // a dead route) is noticed on idle connections too, not only when a query waits on one.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // Without a listener an idle connection's error is an uncaught 'error' event: the process dies.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return pool;
}
