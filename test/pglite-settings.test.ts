/**
 * The embedded default's settings (issue 8): a new PGlite folder is made with 16 MB of shared buffers,
 * not PostgreSQL's 128 MB, and opens with them again. (The memory this saves is bounded in
 * footprint.test.ts, which runs alone; this needs no quiet machine.) A closed database gives its
 * WebAssembly memory back, though something still holds it (a count of this process's own memory).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../src/platform/db/pglite.ts';
import { migratedTemplate } from './support/pglite-template.ts';

const MiB = 2 ** 20;

describe('settings of the embedded database', () => {
  it('a new folder is created with 16 MB of shared buffers, and opens with them again', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'panic-pglite-settings-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (const round of ['new', 'existing']) {
      const pg = await openPglite(join(dir, 'data'));
      const { rows } = await pg.query<{ setting: string }>(`SELECT current_setting('shared_buffers') AS setting`);
      await pg.close();
      assert.equal(rows[0].setting, '16MB', `${round} folder`);
    }
    // the folder is an ordinary PGlite folder
    const plain = await PGlite.create(join(dir, 'data'));
    assert.equal((await plain.query<{ n: number }>('SELECT 1 AS n')).rows[0].n, 1);
    await plain.close();
  });

  it('a closed database gives back its WebAssembly memory (~200 MiB), though still referenced', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    /** This process's memory outside the JavaScript heap (WebAssembly memories are), once collected. */
    const external = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return process.memoryUsage().external;
    };
    const template = await migratedTemplate();
    const databases = [await openPglite('memory://', template), await openPglite('memory://', template)];
    for (const pg of databases) await pg.query('SELECT 1');
    const open = await external();
    for (const pg of databases) await pg.close();
    const closed = await external();
    assert.ok(
      open - closed > 300 * MiB,
      `closing 2 databases gave back ${((open - closed) / MiB).toFixed(0)} MiB (${(open / MiB).toFixed(0)} → ${(closed / MiB).toFixed(0)} MiB)`,
    );
    assert.equal(databases.length, 2, 'the closed databases are still referenced here');
  });
});
