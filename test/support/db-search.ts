/** Where a piece of personal data is left in the database: every text and JSON column of every table, searched. */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { Stack } from './stack.ts';

/** Every place of the database that holds `needle` (case-insensitive): "table.column ×count". */
export async function whereIs(stack: Stack, needle: string): Promise<string[]> {
  const db = stack.runtime.services.db;
  const { rows: columns } = await sql<{ table_name: string; column_name: string }>`
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
      AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')`.execute(db);
  assert.ok(columns.length > 20, `the search reads the schema's text columns (found ${columns.length})`);
  const found: string[] = [];
  for (const { table_name, column_name } of columns) {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM ${sql.table(table_name)}
      WHERE cast(${sql.ref(column_name)} AS text) ILIKE ${`%${needle}%`}`.execute(db);
    if (rows[0].n > 0) found.push(`${table_name}.${column_name} ×${rows[0].n}`);
  }
  return found;
}
