import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from '../config/settings.ts';
import { refusedTestDestinations } from '../config/test-destinations.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { openDatabase, type DbHandle } from '../platform/db/client.ts';
import { migrateToLatest } from '../platform/db/migrations.ts';
import { breakerReadings, createChannels, type Channels } from '../delivery/channels/index.ts';
import { createWorker, type Worker } from '../delivery/worker.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createSendLimits } from '../otp/send-limits.ts';
import type { Services } from './services.ts';
import { createRoad } from '../otp/road.ts';
import { limiterFactory } from '../platform/rate-limit.ts';
import { connectRedis } from '../platform/redis.ts';
import { buildApp, buildMetricsApp } from './http-app.ts';
import { createPasswords } from '../platform/passwords.ts';
import { createSmsBudget } from '../otp/sms-budget.ts';
import { createMaintenance, type Maintenance } from './maintenance.ts';
import { createMetrics, type Metrics } from '../platform/metrics.ts';
import { OUTBOX_NOTIFY_CHANNEL, oldestQueuedSeconds, queueDepth } from '../delivery/outbox.ts';
import { createMessageSeal } from '../delivery/sealed-body.ts';
import { loadComposer } from '../messages/load.ts';
import { createWebhookWorker, type WebhookWorker } from '../delivery/webhook-worker.ts';
import { WEBHOOK_NOTIFY_CHANNEL, webhookBacklogs } from '../delivery/webhooks.ts';

export interface RuntimeOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  /** Replace the channels built from config (tests that swap providers). */
  channels?: Channels;
  /**
   * An open database to run on instead of the one config names (tests that reuse one): migrated like
   * any, and left open by close(), for whoever opened it to close.
   */
  database?: DbHandle;
}

export interface Runtime {
  config: Config;
  logger: Logger;
  handle: DbHandle;
  /** The service container every flow takes its part of. */
  services: Services;
  channels: Channels;
  metrics: Metrics;
  worker: Worker;
  /** The webhook worker (delivery/webhook-worker.ts): runs where the worker runs, apart from it. */
  webhooks: WebhookWorker;
  maintenance: Maintenance;
  app: FastifyInstance;
  /** /metrics alone, when METRICS_PORT is set (serve listens on it). */
  metricsApp?: FastifyInstance;
  close(): Promise<void>;
}

/** Opens the database (migrating it), the limit store and the channels, and builds app and worker. */
export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config);
  const clock = opts.clock ?? systemClock;
  // Judged by the service's own clock, before anything opens: a review that is over, or dated too far off, starts nothing.
  const refused = refusedTestDestinations(config, clock());
  if (refused) throw new ConfigError(`${refused.problem} ${refused.fix}`);
  const tests = config.TEST_OTP_DESTINATIONS.size;
  if (tests) {
    // How many and until when, never which codes.
    const until = config.TEST_OTP_VALID_UNTIL
      ? `until ${config.TEST_OTP_VALID_UNTIL}`
      : 'with no end date (development)';
    logger.info(
      { test_destinations: tests, valid_until: config.TEST_OTP_VALID_UNTIL ?? null },
      `${tests} test destination${tests === 1 ? '' : 's'}, ${until}: their codes are fixed and nothing is sent to them`,
    );
  }
  const handle =
    opts.database ??
    (await openDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      timeoutMs: config.DB_QUERY_TIMEOUT_MS,
      onIdleError: (err) => logger.warn({ err }, 'a database connection was lost; the pool opens a new one'),
    }));
  /** Closes the database when this runtime opened it. */
  const closeOpened = async () => {
    if (handle !== opts.database) await handle.close();
  };
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await closeOpened();
    throw err;
  }
  const redis = config.REDIS_URL ? await connectRedis(config.REDIS_URL, logger) : undefined;
  try {
    return await assemble(opts, config, logger, clock, handle, closeOpened, redis);
  } catch (err) {
    // A start that fails half-way must not leave the database or Redis open behind it.
    redis?.disconnect();
    await closeOpened();
    throw err;
  }
}

async function assemble(
  opts: RuntimeOptions,
  config: Config,
  logger: Logger,
  clock: Clock,
  handle: DbHandle,
  closeOpened: () => Promise<void>,
  redis: Redis | undefined,
): Promise<Runtime> {
  const makeLimiter = limiterFactory(redis);
  const channels = opts.channels ?? createChannels(config, clock);
  const endpoints = config.WEBHOOK_URLS;
  const metrics = createMetrics(
    () => queueDepth(handle.db),
    () => breakerReadings(channels),
    () => oldestQueuedSeconds(handle.db, clock()),
    {
      endpoints: endpoints.map((e) => e.name),
      read: async () => {
        const now = clock().getTime();
        return (await webhookBacklogs(handle.db, endpoints))
          .filter((b) => endpoints.some((e) => e.name === b.endpoint))
          .map((b) => ({
            endpoint: b.endpoint,
            backlog: b.backlog,
            oldestPendingSeconds: b.oldest_pending_at ? Math.max(0, (now - b.oldest_pending_at.getTime()) / 1000) : 0,
          }));
      },
    },
  );
  const base = {
    db: handle.db,
    config,
    clock,
    logger,
    metrics,
    passwords: createPasswords(config),
    makeLimiter,
    sendLimits: createSendLimits(config, makeLimiter),
    smsBudget: createSmsBudget(config, makeLimiter, logger, metrics),
    seal: createMessageSeal(config.OTP_SECRET),
    composer: loadComposer(config),
    channels,
  };
  const services: Services = { ...base, road: createRoad(base) };
  const listen = (onNotify: (payload?: string) => void) => handle.listen(OUTBOX_NOTIFY_CHANNEL, onNotify);
  const worker = createWorker({ ...services, listen });
  const webhooks = createWebhookWorker({
    ...services,
    listen: (onNotify) => handle.listen(WEBHOOK_NOTIFY_CHANNEL, onNotify),
  });
  const maintenance = createMaintenance(services);
  const app = await buildApp(services);
  const metricsApp = config.METRICS_PORT ? await buildMetricsApp(metrics, logger, config) : undefined;
  return {
    config,
    logger,
    handle,
    services,
    channels,
    metrics,
    worker,
    webhooks,
    maintenance,
    app,
    metricsApp,
    async close() {
      await maintenance.stop();
      await Promise.all([app.close(), metricsApp?.close()]);
      await Promise.all([worker.stop(), webhooks.stop()]);
      await Promise.all(Object.values(channels).map((c) => c.close?.()));
      redis?.disconnect();
      await closeOpened();
    },
  };
}
