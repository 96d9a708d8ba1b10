import { configOrExit, exitOnConfigError } from './config-or-exit.ts';
import { createLogger } from '../platform/logger.ts';
import { openDatabase } from '../platform/db/client.ts';
import { migrateToLatest } from '../platform/db/migrations.ts';
import { createRuntime } from '../runtime/create-runtime.ts';

/** `serve` (API and, unless DELIVERY_WORKER=off, the worker) or `worker` alone, until SIGTERM/SIGINT. */
export async function serve(mode: 'serve' | 'worker'): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config);
  if (config.defaultedSecrets.length) {
    logger.warn(
      `${config.defaultedSecrets.join(' and ')} not set: using development defaults (never do this in production)`,
    );
  }
  const runtime = await createRuntime({ config, logger }).catch(exitOnConfigError);
  logger.info(
    { database: runtime.handle.kind, location: runtime.handle.location, app_env: config.APP_ENV },
    'database ready',
  );
  if (mode === 'worker' || config.DELIVERY_WORKER === 'on') {
    runtime.worker.start();
    runtime.webhooks.start();
    runtime.maintenance.start();
  }
  if (runtime.metricsApp) await runtime.metricsApp.listen({ port: config.METRICS_PORT, host: config.METRICS_HOST });
  if (mode === 'serve') {
    await runtime.app.listen({ port: config.PORT, host: config.HOST });
    if (config.isDevelopment) {
      const inbox = `http://localhost:${config.PORT}/dev/inbox${config.DEV_INBOX_TOKEN ? '?token=$DEV_INBOX_TOKEN' : ' (from this machine only)'}`;
      logger.info(`dev inbox: ${inbox}  ·  API docs: http://localhost:${config.PORT}/docs`);
    }
  } else {
    logger.info('delivery worker running');
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing messages in flight');
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

export async function migrate(): Promise<void> {
  const config = configOrExit();
  const handle = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    timeoutMs: config.DB_QUERY_TIMEOUT_MS,
  });
  try {
    const applied = await migrateToLatest(handle.db);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date.\n');
  } finally {
    await handle.close();
  }
}
