import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { openDatabase } from '../db/client.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { createRuntime } from '../runtime.ts';
import { CliError } from './api-client.ts';
import { messagesCommand } from './messages.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<void | number>;
}

/** Every command, in the order --help lists them. */
const COMMANDS: Record<string, Command> = {
  serve: { summary: 'run the HTTP API and the delivery worker (DELIVERY_WORKER=off: API only)', run: () => serve('serve') },
  worker: { summary: 'run the delivery worker alone', run: () => serve('worker') },
  migrate: { summary: 'apply pending database migrations and exit', run: () => migrate() },
  messages: { summary: 'the delivery log of a running server: messages --to X [--status S] [--json] (needs ADMIN_TOKEN)', run: messagesCommand },
};

const usage = () =>
  `panic-api <command>\n\nCommands:\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(18)}${c.summary}`)
    .join('\n')}\n\nConfiguration comes from the environment; see README.md.`;

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function run(command: string | undefined, args: string[]): Promise<void> {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const found = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!found) {
    process.stderr.write(`Unknown command "${command}".\n\n${usage()}\n`);
    process.exit(2);
  }
  const code = await found.run(args);
  if (typeof code === 'number') process.exitCode = code;
}

async function serve(mode: 'serve' | 'worker'): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config);
  if (config.defaultedSecrets.length) {
    logger.warn(`${config.defaultedSecrets.join(' and ')} not set: using development defaults (never do this in production)`);
  }
  const runtime = await createRuntime({ config, logger });
  logger.info({ database: runtime.handle.kind, location: runtime.handle.location, app_env: config.APP_ENV }, 'database ready');
  if (mode === 'worker' || config.DELIVERY_WORKER === 'on') runtime.worker.start();
  if (mode === 'serve') {
    await runtime.app.listen({ port: config.PORT, host: config.HOST });
    if (config.isDevelopment) logger.info(`dev inbox: http://localhost:${config.PORT}/dev/inbox  ·  API docs: http://localhost:${config.PORT}/docs`);
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

async function migrate(): Promise<void> {
  const config = configOrExit();
  const handle = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const applied = await migrateToLatest(handle.db);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date.\n');
  } finally {
    await handle.close();
  }
}

run(process.argv[2], process.argv.slice(3)).catch((err) => {
  process.stderr.write(err instanceof CliError ? `${err.message}\n` : `panic-api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
