/**
 * `npm test`: the type check and the build side by side, then every test file in one of two lanes
 * that run side by side (each file has its own databases, ports and Redis keys) and, beside them,
 * the files whose assertions bound a time or a process's memory, one at a time, each in its own
 * process.
 *
 * A lane is one process for many files (test/support/lane.ts): loading the module graph through tsx
 * costs each process seconds of CPU, and the suite is CPU-bound on a 2-core machine.
 *
 * The lanes (and every process they start) run at the lowest CPU priority, the bounded files at
 * the normal one: the kernel gives a bounded file the CPU whenever it wants it, so its timings read
 * as on an idle machine, and the lanes take what it leaves (most of its time is spent waiting on
 * timers, sockets and cut connections).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/**
 * Files that assert a duration (a median gap under 1 ms, answers within a bound) or a memory bound
 * (an idle RSS, the heap of their own process).
 */
const BOUNDED = new Set([
  'abuse-enumeration-inbox.test.ts',
  'abuse-ip-limits.test.ts',
  'delivery-worker.test.ts',
  'footprint.test.ts',
  'limiter-bound.test.ts',
  'outages.test.ts',
]);

/**
 * What each slow file took in a lane (seconds, beside the other lane and the bounded files on a 2-core
 * machine, Node 24), to share the files out so that the lanes end together; a file not listed counts
 * as 2. Only the balance depends on these.
 */
const SECONDS: Record<string, number> = {
  'crash-safety.test.ts': 33,
  'doctor-deliverability.test.ts': 32,
  'abuse-sms-pumping.test.ts': 30,
  'doctor.test.ts': 25,
  'dev-inbox.test.ts': 21,
  'abuse-takeover.test.ts': 18,
  'attack-messages.test.ts': 16,
  'enumeration.test.ts': 14,
  'code-rules.test.ts': 12,
  'malformed-input.test.ts': 11,
  'delivery-events.test.ts': 10,
  'pglite-settings.test.ts': 10,
  'retention.test.ts': 10,
  'delivery.test.ts': 9,
  'cli-client.test.ts': 9,
  'why.test.ts': 8,
  'receipts.test.ts': 7,
  'messages.test.ts': 7,
  'failover.test.ts': 6,
  'flows.test.ts': 6,
  'openapi-types.test.ts': 4,
  'prune-cli.test.ts': 4,
  'attack-receipts.test.ts': 4,
  'logs.test.ts': 4,
  'sealed-outbox.test.ts': 4,
  'concurrency.test.ts': 4,
  'config.test.ts': 3,
  'dev-fallback.test.ts': 3,
};

const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort();
for (const f of [...BOUNDED, ...Object.keys(SECONDS)]) if (!files.includes(f)) throw new Error(`test/run.ts names ${f}, which is not a test file any more`);

/** Longest first, each onto the lane with less work so far. */
function lanes(names: string[], count: number): string[][] {
  const out = Array.from({ length: count }, () => ({ files: [] as string[], seconds: 0 }));
  const cost = (f: string) => SECONDS[f] ?? 2;
  for (const f of [...names].sort((a, b) => cost(b) - cost(a))) {
    const lane = out.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    lane.files.push(f);
    lane.seconds += cost(f);
  }
  return out.map((l) => l.files).filter((l) => l.length > 0);
}

const reporter = `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`;

/**
 * Whether a lane passed, read from its report's summary: its exit code alone does not say, as PGlite
 * sets process.exitCode (to 0) whenever a database closes, over the test runner's verdict.
 */
function passed(code: number | null, report: string): boolean {
  const count = (what: string) => Number(new RegExp(`^(?:# |ℹ )${what} (\\d+)$`, 'm').exec(report)?.[1] ?? NaN);
  return code === 0 && count('pass') > 0 && count('fail') === 0 && count('cancelled') === 0;
}

interface Lane {
  /** node's arguments */
  args: string[];
  /** the lanes yield the CPU to the bounded files */
  priority: number;
}

/**
 * Runs the lanes side by side. The first one's output is shown as it comes; each later one's is held
 * until the lanes before it have ended, so the report reads one lane after another.
 */
async function runLanes(list: Lane[]): Promise<number> {
  let shown = Promise.resolve();
  const codes = list.map(({ args, priority }) => {
    const child = spawn(process.execPath, ['--import', 'tsx', reporter, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) setPriority(child.pid, priority);
    const held: Buffer[] = [];
    const out: Buffer[] = [];
    let live = false;
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    const write = (chunk: Buffer) => (live ? process.stdout.write(chunk) : held.push(chunk));
    child.stdout.on('data', write);
    child.stderr.on('data', write);
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(passed(code, Buffer.concat(out).toString()) ? 0 : 1)));
    shown = shown.then(() => {
      live = true;
      for (const chunk of held.splice(0)) process.stdout.write(chunk);
      return exit.then(() => undefined);
    });
    return exit;
  });
  await shown;
  return Math.max(...(await Promise.all(codes)));
}

/** `npm run <script>`, its output shown as it comes; resolves to its exit code. */
function npmRun(script: string): Promise<number> {
  return new Promise((resolve) => spawn('npm', ['run', '--silent', script], { stdio: 'inherit' }).on('close', (code) => resolve(code ?? 1)));
}

// The type check and the build side by side: each is one single-threaded compiler, and the lanes'
// children run the built dist/.
if ((await Promise.all([npmRun('typecheck'), npmRun('build')])).some((code) => code !== 0)) process.exit(1);

const shared = lanes(files.filter((f) => !BOUNDED.has(f)), 2).map((names) => ({
  args: [`${dir}support/lane.ts`, ...names.map((f) => dir + f)],
  priority: constants.priority.PRIORITY_LOW,
}));
const bounded = {
  args: ['--test', '--test-concurrency=1', ...files.filter((f) => BOUNDED.has(f)).map((f) => dir + f)],
  priority: constants.priority.PRIORITY_NORMAL,
};
process.exit(await runLanes([bounded, ...shared]));
