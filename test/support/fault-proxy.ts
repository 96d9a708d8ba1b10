import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * pass: bytes flow both ways. reset: every connection, open or new, is destroyed with a TCP RST
 * (a server restart, a failover). blackhole: connections are accepted and kept, but every byte is
 * read and thrown away in both directions, as packets lost on a dead route: only a timeout notices.
 */
export type FaultMode = 'pass' | 'reset' | 'blackhole';

export interface FaultProxy {
  port: number;
  mode: FaultMode;
  setMode(mode: FaultMode): void;
  /** `url` (a postgres:// or redis:// URL) pointed at this proxy instead of its own port. */
  via(url: string): string;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  /** Absent for a connection accepted in blackhole mode: it never reaches the server. */
  upstream?: Socket;
}

/** A TCP proxy on 127.0.0.1 to 127.0.0.1:`targetPort` whose mode a test switches to make faults. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let mode: FaultMode = 'pass';

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  };

  const server = createServer((client) => {
    const pair: Pair = { client };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'reset') return drop(pair);
    if (mode === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair));
    // The server hanging up is passed on, unless the route is dead.
    upstream.on('close', () => {
      if (mode === 'pass') client.destroy();
    });
    client.on('data', (chunk) => {
      if (mode === 'pass') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'pass') client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      if (next === 'reset') for (const pair of [...pairs]) drop(pair);
    },
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async close() {
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
