/**
 * Delivery health (issue 23) reads the messages of the last day or week by when they were queued: the
 * console asks for it on every visit, so it must go through an index (messages_created_idx, migration
 * 0016), never read the whole table (up to MESSAGE_RETENTION_DAYS of messages).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { databaseKinds, startStack, type Stack } from './support/stack.ts';
import { slotCounts } from '../src/delivery/health-stats.ts';

for (const db of await databaseKinds()) {
  describe(`delivery health's query (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db, noWorker: true });
    });
    after(() => stack?.close());

    it('finds the day and the week through messages_created_idx, never by reading every message', async () => {
      const to = new Date();
      for (const days of [1, 7]) {
        const from = new Date(to.getTime() - days * 86_400_000);
        const plan = await stack.runtime.services.db.transaction().execute(async (trx) => {
          // A table this small is read whole anyway; forbid that to see whether an index serves.
          await sql`SET LOCAL enable_seqscan = off`.execute(trx);
          const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${slotCounts(from, to, 3600)}`.execute(trx);
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
        assert.match(plan, /Index.*\bmessages_created_idx\b/, `${days} d:\n${plan}`);
        assert.doesNotMatch(plan, /Seq Scan on messages\b/, `${days} d:\n${plan}`);
      }
    });
  });
}
