/**
 * The embedded default's settings (issue 8): a new PGlite folder is made with 16 MB of shared buffers,
 * not PostgreSQL's 128 MB, and opens with them again. (The memory this saves is bounded in
 * footprint.test.ts, which runs alone; this needs no quiet machine.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../src/db/pglite.ts';

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
});
