import pg from 'pg';

const RECONNECT_MS = 1000;

/**
 * LISTENs on a connection of its own (a pooled one would be handed to queries), and opens it again
 * whenever it is lost: after a reconnect it calls onNotify once, for what it may have missed.
 */
export async function listenOnServer(
  url: string,
  channel: string,
  onNotify: (payload?: string) => void,
  onLost: (err: Error) => void,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 5000 });
    const lost = (err: Error) => {
      if (client !== c) return;
      client = undefined;
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      if (stopped) return;
      onLost(err);
      retry = setTimeout(() => void reconnect(), RECONNECT_MS);
    };
    c.on('error', lost);
    c.on('end', () => lost(new Error('LISTEN connection ended')));
    c.on('notification', (n) => {
      if (n.channel === channel) onNotify(n.payload);
    });
    client = c;
    await c.connect();
    await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  };
  const reconnect = async () => {
    if (stopped) return;
    try {
      await connect();
      onNotify();
    } catch (err) {
      client?.emit('error', err as Error);
    }
  };

  const unsubscribe = async () => {
    stopped = true;
    clearTimeout(retry);
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
  try {
    await connect();
  } catch (err) {
    // The caller hears of this failure and has no unsubscribe: nothing may go on reconnecting
    // behind its back (and keep the process alive).
    await unsubscribe();
    throw err;
  }
  return unsubscribe;
}
