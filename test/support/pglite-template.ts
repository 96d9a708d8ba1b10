import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { migrateToLatest } from '../../src/db/migrations.ts';
import { openPglite } from '../../src/db/pglite.ts';

/**
 * A fresh in-memory PGlite spends seconds in initdb; one loaded from a migrated database's dump is
 * ready in well under one. The dump is made once and kept in the temp folder, named by the
 * migrations' source and PGlite's version, so every test process of a run (and later runs) loads it.
 */
const PGLITE_VERSION = JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')).version;
const MIGRATIONS = new URL('../../src/db/migrations.ts', import.meta.url);

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

/** The migrated database for openDatabase's `template` (and createRuntime's `pgliteTemplate`). */
export function migratedTemplate(): Promise<Blob> {
  template ??= loadOrMake();
  return template;
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
