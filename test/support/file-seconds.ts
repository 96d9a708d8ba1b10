/**
 * What each test file took in a lane of the last `npm test` that ran it, so that test/run.ts hands
 * the longest out first: kept by the runner itself in node_modules/.cache (not in git: it is this
 * machine's), rewritten after every run. Only the order depends on it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const FILE = new URL('../../node_modules/.cache/panic-api/test-seconds.json', import.meta.url).pathname;

/** Seconds per test file name; empty when no run has recorded any (or the record is unreadable). */
export function readSeconds(): Record<string, number> {
  try {
    const record: unknown = JSON.parse(readFileSync(FILE, 'utf8'));
    return record !== null && typeof record === 'object' ? (record as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/** Keeps `took` over what was recorded, for the files that still exist (`files`). */
export function writeSeconds(took: Record<string, number>, files: string[]): void {
  const all = { ...readSeconds(), ...took };
  const kept = Object.fromEntries(files.filter((f) => typeof all[f] === 'number').map((f) => [f, all[f]]));
  mkdirSync(dirname(FILE), { recursive: true });
  // Written aside and renamed: a run reading it meanwhile sees the old record or the new, never half.
  const tmp = `${FILE}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(kept, null, 2)}\n`);
  renameSync(tmp, FILE);
}
