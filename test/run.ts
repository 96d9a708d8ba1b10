/**
 * `npm test`: the type check and the build side by side, then the test files, in processes that run
 * side by side:
 * - the files whose assertions bound a duration, one at a time, each in its own process, at the
 *   normal CPU priority;
 * - the files whose assertions bound a process's memory, one at a time, each in its own process;
 * - every other file in one of two lanes (each file has its own databases, ports and Redis keys),
 *   which share one list, longest first (by what each took the last time: test/support/file-seconds.ts).
 *   Once the files that run alone have ended, a lane takes their place.
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
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { readSeconds, writeSeconds } from './support/file-seconds.ts';
import type { Answer, Ask } from './support/lane.ts';

/** Files that assert a duration (a median gap under 1 ms, answers within a bound). */
const TIMED = new Set([
  'attack-code-login-timing.test.ts',
  'abuse-enumeration-inbox.test.ts',
  'abuse-ip-limits.test.ts',
  'delivery-worker.test.ts',
  'outages.test.ts',
  'webhook-timing.test.ts',
]);

/**
 * Files that assert a memory bound: an idle service's RSS, the heap of their own process. They need
 * a process of their own, not a quiet CPU.
 */
const MEASURED = new Set(['footprint.test.ts', 'limiter-bound.test.ts']);

const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
for (const f of [...TIMED, ...MEASURED])
  if (!files.includes(f)) throw new Error(`test/run.ts names ${f}, which is not a test file any more`);

/**
 * The lanes' files, longest first by what each took in its lane the last time: each lane takes the
 * next one whenever it is free. A file never timed (a new one, or every file on a fresh checkout)
 * goes first, in name order: it may be long, and it is timed from then on.
 */
const last = readSeconds();
const cost = (f: string) => last[f] ?? Number.POSITIVE_INFINITY;
const queue = files
  .filter((f) => !TIMED.has(f) && !MEASURED.has(f))
  .sort((a, b) => cost(b) - cost(a) || a.localeCompare(b))
  .map((f) => dir + f);
/** What each lane file took this run, in seconds: from its handing out to its lane's next ask. */
const took: Record<string, number> = {};

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
  /** The file it runs now, and since when. */
  let current: { name: string; since: number } | undefined;
  child.on('message', (ask: Ask) => {
    if (!ask.next) return;
    const now = performance.now();
    if (current) took[current.name] = Math.round((now - current.since) / 100) / 10;
    const file = queue.shift() ?? null;
    current = file ? { name: basename(file), since: now } : undefined;
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
writeSeconds(took, files);
process.exit(Math.max(...codes));
