import type { Services } from '../runtime/services.ts';
import { webhookKey, type WebhookEndpoint } from '../config/webhooks.ts';
import { addSeconds } from '../shared/clock.ts';
import { retryDelaySeconds } from './backoff.ts';
import { claimWebhooks, recordWebhookOutcome, type ClaimedWebhook, type WebhookOutcome } from './webhooks.ts';
import { postWebhook } from './webhook-sender.ts';
import { type Listen, workerLifecycle } from './worker-lifecycle.ts';

export type WebhookWorkerDeps = Pick<Services, 'db' | 'config' | 'logger' | 'clock' | 'metrics'> & {
  /** Wakes the worker the moment a delivery is committed; without it, it polls. */
  listen?: Listen;
};

export interface WebhookWorker {
  start(): void;
  /**
   * Stops claiming and waits for the requests in flight, at most SHUTDOWN_TIMEOUT_SECONDS; then cuts
   * them short, and their deliveries go back to the queue.
   */
  stop(): Promise<void>;
}

const HOUR_MS = 3_600_000;

/**
 * The webhook worker: a loop per endpoint, each with WEBHOOK_CONCURRENCY requests in flight and a
 * WEBHOOK_TIMEOUT_SECONDS limit on each, apart from the codes' worker (worker.ts), so a receiver that
 * hangs or fails holds up neither a code nor another endpoint. It shares the outbox's retry delays
 * (DELIVERY_RETRY_BASE_SECONDS, doubling, an hour at most), leases (DELIVERY_LEASE_SECONDS) and poll.
 */
export function createWebhookWorker(deps: WebhookWorkerDeps): WebhookWorker {
  const { db, config, logger, clock, metrics } = deps;
  const endpoints = config.WEBHOOK_URLS;
  const key = config.WEBHOOK_SECRET ? webhookKey(config.WEBHOOK_SECRET) : undefined;
  // every wake-up wakes every endpoint's loop: a notification does not say whose row it is
  const life = workerLifecycle({
    keys: endpoints.map((e) => e.name),
    listen: deps.listen,
    wakeByPayload: false,
    what: 'webhooks',
    shutdownTimeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS,
    logger,
  });
  /** Cuts the requests in flight short when stop() has waited long enough. */
  let stopping = new AbortController();
  const inFlight = new Map<string, { delivery: ClaimedWebhook; done: Promise<void> }>();

  /** Posts one delivery and decides what comes of it: delivered, tried again later, or given up. */
  async function attempt(endpoint: WebhookEndpoint, delivery: ClaimedWebhook): Promise<WebhookOutcome> {
    const log = { endpoint: endpoint.name, delivery_id: delivery.id, event_id: delivery.event.id };
    const answer = await postWebhook(
      endpoint,
      key!,
      delivery,
      clock(),
      config.WEBHOOK_TIMEOUT_SECONDS * 1000,
      stopping.signal,
    );
    if (answer.ok) {
      metrics.webhookDeliveries.inc({ endpoint: endpoint.name, outcome: 'delivered' });
      logger.info({ ...log, attempts: delivery.attempts }, 'webhook delivered');
      return { status: 'delivered' };
    }
    const now = clock();
    if (answer.stopped) return { status: 'queued', reason: answer.reason, retryAt: now };
    metrics.webhookDeliveries.inc({ endpoint: endpoint.name, outcome: 'failed' });
    if (now.getTime() - delivery.created_at.getTime() >= config.WEBHOOK_RETRY_HOURS * HOUR_MS) {
      logger.error(
        { ...log, attempts: delivery.attempts, reason: answer.reason },
        "webhook failed: WEBHOOK_RETRY_HOURS passed; the account's next events go on",
      );
      return { status: 'failed', reason: answer.reason };
    }
    const retryAt = addSeconds(now, retryDelaySeconds(delivery.attempts, config.DELIVERY_RETRY_BASE_SECONDS));
    logger.warn(
      { ...log, attempts: delivery.attempts, reason: answer.reason, retry_at: retryAt },
      'webhook not delivered, will retry',
    );
    return { status: 'queued', reason: answer.reason, retryAt };
  }

  /** Records an outcome; one the database does not take leaves the delivery to its lease (sent again: at least once). */
  async function record(delivery: ClaimedWebhook, outcome: WebhookOutcome): Promise<void> {
    try {
      if (!(await recordWebhookOutcome(db, delivery, outcome, clock())))
        logger.warn(
          { delivery_id: delivery.id },
          'webhook outcome not recorded: the lease ran out and another worker took the delivery over',
        );
    } catch (err) {
      logger.warn(
        { err, delivery_id: delivery.id },
        'could not record a webhook outcome; the delivery is tried again once its lease runs out',
      );
    }
  }

  function begin(endpoint: WebhookEndpoint, delivery: ClaimedWebhook): void {
    const done = attempt(endpoint, delivery)
      .then((outcome) => record(delivery, outcome))
      .catch((err) => logger.error({ err, delivery_id: delivery.id }, 'delivering a webhook failed'))
      .finally(() => {
        inFlight.delete(delivery.id);
        // a slot is free, and the account's next event may now be due
        life.wake();
      });
    inFlight.set(delivery.id, { delivery, done });
  }

  const mine = (endpoint: WebhookEndpoint) =>
    [...inFlight.values()].filter((f) => f.delivery.endpoint === endpoint.name).map((f) => f.delivery.id);

  async function endpointLoop(endpoint: WebhookEndpoint): Promise<void> {
    while (life.running) {
      const seen = life.seen(endpoint.name);
      const ids = mine(endpoint);
      const free = config.WEBHOOK_CONCURRENCY - ids.length;
      if (free > 0) {
        let claimed: ClaimedWebhook[];
        try {
          claimed = await claimWebhooks(db, endpoint.name, clock(), config.DELIVERY_LEASE_SECONDS, free, ids);
        } catch (err) {
          logger.error({ err, endpoint: endpoint.name }, 'webhook worker could not claim deliveries');
          await life.pause(endpoint.name, config.DELIVERY_POLL_MS, life.seen(endpoint.name));
          continue;
        }
        if (!life.running) {
          // claimed while stopping: straight back
          for (const d of claimed)
            await record(d, { status: 'queued', reason: 'the worker stopped', retryAt: clock() });
          break;
        }
        for (const d of claimed) begin(endpoint, d);
        if (claimed.length === free) continue;
      }
      await life.pause(endpoint.name, config.DELIVERY_POLL_MS, seen);
    }
  }

  return {
    start() {
      if (life.running || !endpoints.length) return;
      stopping = new AbortController();
      life.start(() => endpoints.map(endpointLoop));
    },
    async stop() {
      await life.stop(
        () => [...inFlight.values()].map((f) => f.done),
        async (settled) => {
          logger.warn(
            { deliveries: [...inFlight.keys()] },
            'SHUTDOWN_TIMEOUT_SECONDS passed with webhooks in flight: they go back to the queue',
          );
          stopping.abort();
          await settled;
        },
      );
    },
  };
}
