/**
 * `npm test`: the type check and the build side by side, then the test files, in processes that run
 * side by side:
 * - the files whose assertions bound a duration, one at a time, each in its own process, at the
 *   normal CPU priority;
 * - the files whose assertions bound a process's memory, one at a time, each in its own process;
 * - every other file in one of two lanes (each file has its own databases, ports and Redis keys),
 *   which share one list, longest first. Once the files that run alone have ended, a lane takes
 *   their place.
 *
 * A lane is one process for many files (test/support/lane.ts): loading the module graph through tsx
 * costs each process seconds of CPU, and the suite is CPU-bound on a 2-core machine. A lane takes the
 * next file whenever its last one has ended, so the lanes end together whatever a file costs today.
 *
 * Everything but the timed files (and every process it starts) runs at the lowest CPU priority: the
 * kernel gives a timed file the CPU whenever it wants it, so its timings read as on an idle machine,
 * and the rest takes what it leaves (most of its time is spent waiting on timers, sockets and cut
 * connections). */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import type { Readable } from 'node:stream';
import type { Answer, Ask } from './support/lane.ts';

/** Files that assert a duration (a median gap under 1 ms, answers within a bound). */
const TIMED = new Set([
  'abuse-enumeration-inbox.test.ts',
  'abuse-ip-limits.test.ts',
  'delivery-worker.test.ts',
  'outages.test.ts',
]);

/**
 * Files that assert a memory bound: an idle service's RSS, the heap of their own process. They need
 * a process of their own, not a quiet CPU.
 */
const MEASURED = new Set(['footprint.test.ts', 'limiter-bound.test.ts']);

/**
 * What each slow file took in a lane (seconds, beside the other lanes and the files run alone on a
 * 2-core machine, Node 24), to hand the longest out first; a file not listed counts as 2. Only the
 * order depends on these.
 */
const SECONDS: Record<string, number> = {
  'crash-safety.test.ts': 33,
  'doctor-deliverability.test.ts': 32,
  'abuse-sms-pumping.test.ts': 30,
  'doctor.test.ts': 25,
  'dev-inbox.test.ts': 21,
  'abuse-denial.test.ts': 23,
  'abuse-takeover.test.ts': 18,
  'attack-messages.test.ts': 16,
  'enumeration.test.ts': 14,
  'code-rules.test.ts': 12,
  'malformed-input.test.ts': 11,
  'delivery-events.test.ts': 10,
  'abuse-sms-brake.test.ts': 9,
  'abuse-small-levers.test.ts': 9,
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
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
for (const f of [...TIMED, ...MEASURED, ...Object.keys(SECONDS)])
  if (!files.includes(f)) throw new Error(`test/run.ts names ${f}, which is not a test file any more`);

/** The lanes' files, longest first: each lane takes the next one whenever it is free. */
const cost = (f: string) => SECONDS[f] ?? 2;
const queue = files
  .filter((f) => !TIMED.has(f) && !MEASURED.has(f))
  .sort((a, b) => cost(b) - cost(a))
  .map((f) => dir + f);

const reporter = `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`;

/**
 * Whether a lane passed, read from its report's summary: its exit code alone does not say, as PGlite
 * sets process.exitCode (to 0) whenever a database closes, over the test runner's verdict.
 */
function passed(code: number | null, report: string): boolean {
  const count = (what: string) => Number(new RegExp(`^(?:# |ℹ )${what} (\\d+)$`, 'm').exec(report)?.[1] ?? NaN);
  // A failed suite (a file that throws while loading, a failing hook) is not counted in `fail`.
  const failedLine = /^\s*(?:not ok \d+ (?!.*# TODO)|✖ )/m.test(report);
  return code === 0 && count('pass') > 0 && count('fail') === 0 && count('cancelled') === 0 && !failedLine;
}

/** A test process: the files run alone, or a lane. */
interface TestProcess {
  /** 0 when its tests passed, else 1 */
  exit: Promise<number>;
  /** starts writing its output as it comes (after what it held so far) */
  show(): void;
}

/**
 * Starts a node process running tests with `args`, at `priority`. Its output is held until show();
 * one that is a lane (test/support/lane.ts) is handed the queue's files one by one, as it asks.
 */
function start(args: string[], priority: number): TestProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', reporter, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }) as ChildProcessByStdio<null, Readable, Readable>;
  if (child.pid !== undefined) setPriority(child.pid, priority);
  /** Files handed to it, when it is a lane: one that asked and got none has nothing to report. */
  let handed: number | undefined;
  child.on('message', (ask: Ask) => {
    if (!ask.next) return;
    const file = queue.shift() ?? null;
    handed = (handed ?? 0) + (file ? 1 : 0);
    child.send({ file } satisfies Answer);
  });
  const held: Buffer[] = [];
  const out: Buffer[] = [];
  let live = false;
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  const write = (chunk: Buffer) => (live ? process.stdout.write(chunk) : held.push(chunk));
  child.stdout.on('data', write);
  child.stderr.on('data', write);
  return {
    exit: new Promise((resolve) =>
      child.on('close', (code) =>
        resolve((code === 0 && handed === 0) || passed(code, Buffer.concat(out).toString()) ? 0 : 1),
      ),
    ),
    show() {
      live = true;
      for (const chunk of held.splice(0)) process.stdout.write(chunk);
    },
  };
}

/** `npm run <script>`, its output shown as it comes; resolves to its exit code. */
function npmRun(script: string): Promise<number> {
  return new Promise((resolve) =>
    spawn('npm', ['run', '--silent', script], { stdio: 'inherit' }).on('close', (code) => resolve(code ?? 1)),
  );
}

// The type check and the build side by side: each is one single-threaded compiler, and the lanes'
// children run the built dist/.
if ((await Promise.all([npmRun('typecheck'), npmRun('build')])).some((code) => code !== 0)) process.exit(1);

const LANE = `${dir}support/lane.ts`;
const { PRIORITY_LOW, PRIORITY_NORMAL } = constants.priority;
/** `names`, one at a time, each in a process of its own. */
const alone = (names: Set<string>, priority: number) =>
  start(['--test', '--test-concurrency=1', ...[...names].map((f) => dir + f)], priority);
const timed = alone(TIMED, PRIORITY_NORMAL);
const measured = alone(MEASURED, PRIORITY_LOW);
const shared = [start([LANE], PRIORITY_LOW), start([LANE], PRIORITY_LOW)];
// Once the timed files have ended, a third lane takes what is left of the queue.
const later = timed.exit.then(() => (queue.length > 0 ? [start([LANE], PRIORITY_LOW)] : []));

// One report after another: the timed files', the measured ones', then each lane's.
const codes: number[] = [];
for (const run of [timed, measured, ...shared]) {
  run.show();
  codes.push(await run.exit);
}
for (const run of await later) {
  run.show();
  codes.push(await run.exit);
}
process.exit(Math.max(...codes));
