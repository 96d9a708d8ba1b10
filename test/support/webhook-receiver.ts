/**
 * A platform service receiving our webhooks, as a real one would: a node:http server that verifies
 * each request with the `standardwebhooks` package (Webhook.verify, the reference library, not our
 * own code), answers as the test sets it (up, down with 503, hanging, or not listening at all) and
 * counts what it got and accepted.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { readBody } from './http-fixture.ts';
import { waitUntil } from './wait.ts';

/** A fresh secret in the Standard Webhooks form. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: { user_id: string } & Record<string, unknown>;
}

export interface Arrival {
  id: string;
  body: string;
  /** Webhook.verify accepted it (signature and timestamp). */
  verified: boolean;
  /** What the receiver answered (0: it held the request and never answered). */
  status: number;
  /** When its headers arrived. */
  at: number;
  /** A held request: when its connection closed (the sender gave up on it). */
  endedAt?: number;
}

export interface WebhookReceiver {
  url: string;
  /**
   * `up` answers 200, `down` 503, `hang` holds each request until the connection dies; `swallow`
   * accepts it (counted) but holds the answer, as a receiver whose 200 never reaches the sender.
   */
  mode: 'up' | 'down' | 'hang' | 'swallow';
  /** Every request, in arrival order. */
  readonly arrivals: Arrival[];
  /** Requests held right now (mode hang). */
  readonly holding: number;
  /** The payloads answered 200, in the order they were accepted, duplicates included. */
  readonly accepted: Array<{ id: string; payload: WebhookPayload }>;
  /** The accepted payloads with duplicates dropped by webhook-id, as a receiver does, in order of first acceptance. */
  unique(): Array<{ id: string; payload: WebhookPayload }>;
  /** Waits until `n` distinct ids were accepted. */
  waitForUnique(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening (connections are refused) and drops the held requests' connections. */
  goAway(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret);
  const arrivals: Arrival[] = [];
  const accepted: Array<{ id: string; payload: WebhookPayload }> = [];
  const held = new Set<ServerResponse>();
  const state = { mode: 'up' as WebhookReceiver['mode'] };
  const server = createServer((req, res) => {
    const at = Date.now();
    void (async () => {
      const body = await readBody(req);
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let payload: WebhookPayload | undefined;
      try {
        payload = verifier.verify(body, headers) as WebhookPayload;
      } catch {
        payload = undefined;
      }
      const arrival: Arrival = { id: headers['webhook-id'], body, verified: !!payload, status: 0, at };
      arrivals.push(arrival);
      // a service that is down answers before it looks at anything
      if (state.mode === 'down') {
        arrival.status = 503;
        return void res.writeHead(503).end('down for maintenance');
      }
      if (!payload) {
        arrival.status = 400;
        return void res.writeHead(400).end('signature invalid');
      }
      if (state.mode === 'swallow') accepted.push({ id: arrival.id, payload });
      if (state.mode === 'hang' || state.mode === 'swallow') {
        held.add(res);
        res.on('close', () => {
          held.delete(res);
          arrival.endedAt = Date.now();
        });
        return;
      }
      arrival.status = 200;
      accepted.push({ id: arrival.id, payload });
      res.writeHead(200).end();
    })();
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const goAway = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}/hooks/panic`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    arrivals,
    get holding() {
      return held.size;
    },
    accepted,
    unique() {
      const seen = new Set<string>();
      return accepted.filter((a) => !seen.has(a.id) && seen.add(a.id));
    },
    async waitForUnique(n, timeoutMs = 30_000) {
      await waitUntil(() => new Set(accepted.map((a) => a.id)).size >= n, {
        timeoutMs,
        what: `${n} distinct webhooks accepted (have ${new Set(accepted.map((a) => a.id)).size}; ${arrivals.length} requests)`,
      });
    },
    goAway,
    comeBack: () => listen(port),
    async close() {
      if (server.listening) await goAway();
    },
  };
}
