import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { openDatabase, type DbHandle } from '../../src/platform/db/client.ts';
import { migrateToLatest } from '../../src/platform/db/migrations.ts';
import { openPglite } from '../../src/platform/db/pglite.ts';

/**
 * A fresh in-memory PGlite spends seconds in initdb; one loaded from a migrated database's dump is
 * ready in well under one. The dump is made once and kept in the temp folder, named by the
 * migrations' source and PGlite's version, so every test process of a run (and later runs) loads it.
 */
const PGLITE_VERSION = JSON.parse(
  readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
).version;
const MIGRATIONS = new URL('../../src/platform/db/migrations.ts', import.meta.url);

async function dumpMigrated(): Promise<Blob> {
  const pg = await openPglite('memory://');
  const db = new Kysely<any>({ dialect: new PGliteDialect(pg) });
  try {
    await migrateToLatest(db);
    return await pg.dumpDataDir('none');
  } finally {
    await db.destroy();
  }
}

const KEY = createHash('sha256').update(PGLITE_VERSION).update(readFileSync(MIGRATIONS)).digest('hex').slice(0, 16);

async function loadOrMake(): Promise<Blob> {
  const file = join(tmpdir(), `panic-api-pglite-template-${KEY}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch {
    const blob = await dumpMigrated();
    // Written aside and renamed: a test process running alongside reads a whole file or none.
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, new Uint8Array(await blob.arrayBuffer()));
    renameSync(partial, file);
    return blob;
  }
}

let template: Promise<Blob> | undefined;

/** The migrated database for openDatabase's `template`. */
export function migratedTemplate(): Promise<Blob> {
  template ??= loadOrMake();
  return template;
}

/**
 * In-memory databases given back emptied, for the next test of this process that needs one; while
 * undefined (a test file run alone) a database given back is closed. An open PGlite keeps its
 * process alive with its timers, so whoever turns reuse on closes them at the end.
 */
let reusable: DbHandle[] | undefined;

/** Keeps the databases given back for reuse (test/support/lane.ts runs many files in one process); answers the closing of them. */
export function reuseDatabases(): () => Promise<void> {
  // Already on: whoever turned it on closes them.
  if (reusable) return async () => undefined;
  reusable = [];
  return async () => {
    const kept = reusable ?? [];
    reusable = undefined;
    await Promise.all(kept.map((handle) => handle.close()));
  };
}

/** Deletes every row but the migrations' and forgets every LISTEN: what a new database from the dump holds. */
async function empty(handle: DbHandle): Promise<void> {
  const { rows } = await sql<{
    name: string;
  }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_migration%'`.execute(
    handle.db,
  );
  await sql.raw(`TRUNCATE ${rows.map((r) => `"${r.name}"`).join(', ')} RESTART IDENTITY CASCADE`).execute(handle.db);
  await sql`UNLISTEN *`.execute(handle.db);
}

/** Whether `handle` could be emptied within 5 s (a transaction left open would hold it for ever). */
function emptied(handle: DbHandle): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    empty(handle)
      .then(
        () => resolve(true),
        () => resolve(false),
      )
      .finally(() => clearTimeout(timer));
  });
}

/**
 * An open, migrated, empty in-memory database: one given back earlier in this process when reuse is
 * on, or a new one loaded from the dump. Opening one costs half a CPU-second (PGlite unpacks its
 * files each time), emptying one a few milliseconds. `giveBack()` empties it for the next test, or
 * closes it when reuse is off or it cannot be emptied (a test left it broken).
 */
export async function borrowMigratedDatabase(): Promise<{ handle: DbHandle; giveBack(): Promise<void> }> {
  const handle = reusable?.pop() ?? (await openDatabase({ dataDir: 'memory://', template: await migratedTemplate() }));
  let given = false;
  return {
    handle,
    async giveBack() {
      // Twice would lend it to two tests at once.
      if (given) return;
      given = true;
      if (!reusable) return handle.close();
      // Left broken, or busy in a transaction nobody will end: lent no more, and not waited on.
      if (!(await emptied(handle))) return void handle.close().catch(() => undefined);
      // Reuse may have ended while it was emptied.
      if (reusable) reusable.push(handle);
      else await handle.close();
    },
  };
}

let folder: Promise<string> | undefined;

/** A migrated data folder made once from the dump (kept in the temp folder like the dump itself). */
async function folderOrMake(): Promise<string> {
  const made = join(tmpdir(), `panic-api-pglite-folder-${KEY}`);
  if (existsSync(join(made, 'PG_VERSION'))) return made;
  const partial = mkdtempSync(`${made}.`);
  await (await PGlite.create(join(partial, 'data'), { loadDataDir: await migratedTemplate() })).close();
  try {
    renameSync(join(partial, 'data'), made);
  } catch (err) {
    // Another test process made it first: theirs is as good.
    if (!existsSync(join(made, 'PG_VERSION'))) throw err;
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return made;
}

/**
 * Makes `dataDir` a migrated PGlite folder, as `panic-api migrate` would, by copying one (a child
 * process that creates and migrates a new folder spends seconds of CPU in initdb).
 */
export async function copyMigratedFolder(dataDir: string): Promise<void> {
  folder ??= folderOrMake();
  await cp(await folder, dataDir, { recursive: true });
}
