import { alignColumns } from './columns.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../shared/clock.ts';
import type { Config } from '../config/settings.ts';
import { openDatabase } from '../platform/db/client.ts';
import { isMigrated } from '../platform/db/migrations.ts';
import { applyRetention, RETENTION_TABLES, RULES, type RetentionCounts } from '../platform/db/retention.ts';
import { accountRemovals } from '../runtime/maintenance.ts';
import { apiBaseUrl } from './api-client.ts';
import { CliError } from './errors.ts';
import { configOrExit } from './config-or-exit.ts';
import { askServer } from './doctor/database.ts';
import { errorText } from './doctor/types.ts';

/** `panic-api prune [--dry-run] [--json]`: applies the retention rules once, now. */
export async function pruneCommand(opts: { dryRun?: boolean; json?: boolean }): Promise<number> {
  const dryRun = opts.dryRun === true;
  const config = configOrExit();
  if (!config.DATABASE_URL) await assertPgliteFree(config.DATA_DIR);
  const removed = await prune(config, dryRun);
  process.stdout.write(
    opts.json ? `${JSON.stringify({ dry_run: dryRun, removed }, null, 2)}\n` : `${describe(removed, dryRun, config)}\n`,
  );
  return 0;
}

/** PGlite allows one process per data folder: a running server holds it (and prunes it itself). */
async function assertPgliteFree(dataDir: string): Promise<void> {
  const base = apiBaseUrl();
  const answer = await askServer(base);
  if (answer.kind !== 'none' && answer.kind !== 'other') {
    throw new CliError(
      `A panic-api server answers at ${base}: with the embedded database it prunes every 10 minutes itself, and ${dataDir} ` +
        'may be open in one process only. Stop it to prune by hand (or set API_BASE_URL if that server uses another DATA_DIR).',
    );
  }
  // Opening a folder with no database would create one.
  if (!dataDir.startsWith('memory://') && !existsSync(join(dataDir, 'PG_VERSION'))) {
    throw new CliError(`No database in DATA_DIR=${dataDir}: nothing to prune. Check DATA_DIR (or set DATABASE_URL).`);
  }
}

async function prune(config: Config, dryRun: boolean): Promise<RetentionCounts> {
  let location = config.DATABASE_URL ? 'the PostgreSQL server' : config.DATA_DIR;
  try {
    const handle = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
    location = handle.location;
    try {
      if (!(await isMigrated(handle.db))) {
        throw new CliError(`The database at ${location} has pending migrations: run \`panic-api migrate\` first.`);
      }
      const now = systemClock();
      return await applyRetention(handle.db, config, now, { dryRun, alongside: accountRemovals({ config }, now) });
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`Could not prune the database at ${location}: ${errorText(err)}`);
  }
}

/** A headline and one line per table: how many rows, and the rule that picked them. */
function describe(removed: RetentionCounts, dryRun: boolean, config: Config): string {
  const total = RETENTION_TABLES.reduce((n, t) => n + removed[t], 0);
  const rows = `${total} row${total === 1 ? '' : 's'}`;
  const headline = dryRun
    ? `Dry run: ${rows} would be removed; nothing was removed.`
    : total
      ? `Removed ${rows}.`
      : 'Nothing to remove: every row is within its keeping time.';
  const { lines } = alignColumns(
    RETENTION_TABLES.map((t) => [t, String(removed[t]), RULES[t].what(config)]),
    { indent: '  ', right: [1] },
  );
  return [headline, ...lines].join('\n');
}
