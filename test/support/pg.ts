import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../../src/platform/db/client.ts';
import { migrateToLatest } from '../../src/platform/db/migrations.ts';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let available: Promise<boolean> | undefined;

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Whether PostgreSQL answers at PG_ADMIN_URL (checked once per process).
 * Under CI=true an unavailable server throws: CI must never silently skip PostgreSQL tests.
 */
export async function pgAvailable(): Promise<boolean> {
  available ??= withAdmin((c) => c.query('SELECT 1')).then(
    () => true,
    () => false,
  );
  const ok = await available;
  if (!ok && process.env.CI === 'true') {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL} and CI=true; refusing to skip PostgreSQL tests`);
  }
  return ok;
}

/** Creates an empty, uniquely named database; `drop()` force-drops it (PG >= 13). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `panic_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** createTestDatabase, migrated to the latest schema in this process (no `panic-api migrate` child). */
export async function createMigratedDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const database = await createTestDatabase();
  const handle = await openDatabase({ url: database.url });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
  return database;
}
