/**
 * `npm test`: every test file, two at a time (each has its own databases, ports and Redis keys), then
 * the files whose assertions bound a time or a process's memory, one at a time on a machine the
 * others no longer load.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Files that assert a duration (a median gap under 1 ms, answers within a bound) or an idle RSS. */
const BOUNDED = new Set(['abuse-enumeration-inbox.test.ts', 'abuse-ip-limits.test.ts', 'delivery-worker.test.ts', 'footprint.test.ts', 'outages.test.ts']);

const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort();
for (const f of BOUNDED) if (!files.includes(f)) throw new Error(`test/run.ts names ${f}, which is not a test file any more`);

function run(concurrency: number, names: string[]): number {
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...names.map((f) => dir + f)];
  return spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
}

const together = run(2, files.filter((f) => !BOUNDED.has(f)));
const alone = run(1, files.filter((f) => BOUNDED.has(f)));
process.exit(together || alone);
