import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/settings.ts';
import { openDatabase, ping, redactUrl, type DbHandle } from '../../platform/db/client.ts';
import { isMigrated } from '../../platform/db/migrations.ts';
import { errorCode, errorText, explainCode, fail, NETWORK_CODES, ok, warn, type Check } from './types.ts';

const NAME = 'database';
const MIGRATE_FIX = 'Run `npx panic-api migrate` (`serve` also applies pending migrations when it starts).';

/** Opens, pings and asks whether every migration ran; always closes what it opened. */
async function inspect(open: () => Promise<DbHandle>): Promise<{ location: string; migrated: boolean }> {
  const handle = await open();
  try {
    await ping(handle.db);
    return { location: handle.location, migrated: await isMigrated(handle.db) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function postgresFailure(err: unknown, where: string): Check {
  const code = errorCode(err);
  const text = errorText(err);
  if (code && NETWORK_CODES.has(code)) {
    return fail(
      NAME,
      `PostgreSQL not reachable at ${where} (${explainCode(code)})`,
      'Start PostgreSQL, or fix the host and port in DATABASE_URL; check firewalls between this host and the server.',
    );
  }
  if (code === '28P01' || code === '28000') {
    return fail(
      NAME,
      `PostgreSQL refused the user or password in DATABASE_URL (${text})`,
      "Fix the user and password in DATABASE_URL (or the server's pg_hba.conf).",
    );
  }
  if (code === '3D000') {
    return fail(
      NAME,
      `PostgreSQL answers, but the database does not exist (${text})`,
      'Create it (createdb <name>) or fix the database name at the end of DATABASE_URL.',
    );
  }
  if (/timeout/i.test(text)) {
    return fail(
      NAME,
      `PostgreSQL at ${where} did not answer in time (${text})`,
      'Check the host and port in DATABASE_URL and firewalls between this host and the server.',
    );
  }
  return fail(NAME, `PostgreSQL check failed at ${where}: ${text}`, 'Check DATABASE_URL and that the server is up.');
}

async function checkPostgres(url: string): Promise<Check> {
  const where = redactUrl(url);
  try {
    const { location, migrated } = await inspect(() => openDatabase({ url }));
    return migrated
      ? ok(NAME, `PostgreSQL at ${location} answers and is migrated`)
      : warn(NAME, `PostgreSQL at ${location} answers, but migrations are pending`, MIGRATE_FIX);
  } catch (err) {
    return postgresFailure(err, where);
  }
}

type ServerAnswer =
  | { kind: 'none' }
  | { kind: 'hung' }
  | { kind: 'ready' }
  | { kind: 'not_ready'; message: string }
  | { kind: 'other'; status: number };

/** Asks a running panic-api for its readiness; 'none' when nothing listens at API_BASE_URL. */
export async function askServer(base: string): Promise<ServerAnswer> {
  let res: Response;
  try {
    res = await fetch(`${base}/health/ready`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(3000),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return { kind: 'hung' };
    return { kind: 'none' };
  }
  const body = (await res.json().catch(() => undefined)) as
    | { status?: string; error?: { code?: string; message?: string } }
    | undefined;
  if (res.status === 200 && body?.status === 'ready') return { kind: 'ready' };
  if (res.status === 503 && body?.error?.code === 'not_ready')
    return { kind: 'not_ready', message: body.error.message ?? 'not ready' };
  return { kind: 'other', status: res.status };
}

/**
 * PGlite allows ONE process per data folder: while a server runs, doctor asks it (GET /health/ready)
 * instead of opening the folder; with no server it opens the folder just long enough to look.
 */
async function checkPglite(dataDir: string, base: string): Promise<Check> {
  if (dataDir.startsWith('memory://')) {
    return warn(
      NAME,
      `Embedded PGlite in memory (DATA_DIR=${dataDir}): every restart starts empty`,
      'Set DATA_DIR to a folder, or DATABASE_URL to a PostgreSQL server, to keep accounts across restarts.',
    );
  }
  const answer = await askServer(base);
  switch (answer.kind) {
    case 'ready':
      return ok(
        NAME,
        `Embedded PGlite: the server running at ${base} reports its database ready and migrated (asked it rather than opening ${dataDir}, which one process at a time may use)`,
      );
    case 'not_ready':
      return fail(
        NAME,
        `The server running at ${base} reports its database not ready: ${answer.message}`,
        "Read that server's log; restart it to apply migrations, or check the disk holding DATA_DIR.",
      );
    case 'hung':
      return warn(
        NAME,
        `A server at ${base} accepts connections but did not answer GET /health/ready within 3 s; ${dataDir} was not opened (PGlite allows one process per data folder)`,
        'Check that server (its log, its load); or stop it and run doctor again.',
      );
    case 'other':
    case 'none':
      break;
  }
  const note =
    answer.kind === 'other' ? ` (the server at ${base} answered HTTP ${answer.status} and is not panic-api)` : '';
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    return warn(
      NAME,
      `No database in DATA_DIR=${dataDir} yet${note}`,
      'Nothing to do: `npm start` (or `npx panic-api migrate`) creates and migrates it. If you expected data there, check DATA_DIR.',
    );
  }
  try {
    const { migrated } = await inspect(() => openDatabase({ dataDir }));
    return migrated
      ? ok(NAME, `Embedded PGlite in ${dataDir} opens and is migrated${note}`)
      : warn(NAME, `Embedded PGlite in ${dataDir} opens, but migrations are pending${note}`, MIGRATE_FIX);
  } catch (err) {
    return fail(
      NAME,
      `Embedded PGlite in ${dataDir} could not be opened: ${errorText(err)}`,
      'Check that DATA_DIR is readable and writable by this user and that no other process uses it; restore it from a backup if it is damaged.',
    );
  }
}

export function checkDatabase(config: Config, apiBase: string): Promise<Check> {
  return config.DATABASE_URL ? checkPostgres(config.DATABASE_URL) : checkPglite(config.DATA_DIR, apiBase);
}
