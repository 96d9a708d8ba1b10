/**
 * The hash gate's rule on its own (issue 19, part 4): a task waits while the wait it can expect (the
 * line ahead over the rate measured from the tasks' own durations) fits in maxWaitMs; past that, or
 * past maxQueued, it is refused at once with the seconds until the line ahead drains. A task
 * announced before its flow's work counts in line until it comes. The clock is the test's: time
 * moves when the test says, nothing sleeps.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGate, type GateRule } from '../src/shared/gate.ts';

class Refused extends Error {
  constructor(readonly retryAfter: number) {
    super(`busy, retry in ${retryAfter} s`);
  }
}
const overloaded = (retryAfter: number) => new Refused(retryAfter);

/** A gate on a clock the test moves, and tasks that end when the test ends them. */
function gateOnClock(rule: Omit<GateRule, 'now'>) {
  let ms = 0;
  const gate = createGate({ ...rule, now: () => ms });
  const started: Array<() => void> = [];
  let running = 0;
  let most = 0;
  const task = () =>
    new Promise<void>((resolve) => {
      running += 1;
      most = Math.max(most, running);
      started.push(() => {
        running -= 1;
        resolve();
      });
    });
  /** Lets the microtasks run: a task let in by a freed slot starts in them. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    gate,
    /** Starts a run and keeps its outcome: 'done', or the Retry-After it was refused with. */
    run() {
      const outcome = { value: undefined as 'done' | number | undefined };
      const promise = gate.run(task, overloaded).then(
        () => (outcome.value = 'done'),
        (err: unknown) => {
          if (!(err instanceof Refused)) throw err;
          outcome.value = err.retryAfter;
        },
      );
      return { outcome, promise };
    },
    /** Moves the clock by ms. */
    tick(afterMs: number) {
      ms += afterMs;
    },
    /** Moves the clock by ms, then ends the oldest running task. */
    async endOldest(afterMs: number) {
      ms += afterMs;
      started.shift()!();
      await settle();
    },
    /** Ends every task, oldest first, each `eachMs` after the last. */
    async drain(eachMs: number) {
      await settle();
      while (started.length) await this.endOldest(eachMs);
    },
    settle,
    most: () => most,
  };
}

const refusedNow = async (g: ReturnType<typeof gateOnClock>) => {
  const r = g.run();
  await g.settle();
  return r.outcome.value;
};

describe('createGate: shed by time', () => {
  it('runs at most `concurrency` at once; until a task is measured, the first guess sets the line', async () => {
    // Guess 100 ms, 2 slots: the n-th in line (n ahead) waits (n + 1) × 50 ms; 1000 ms lets 20 wait.
    const g = gateOnClock({ concurrency: 2, maxWaitMs: 1000, maxQueued: 1000, announcedMs: 500, firstGuessMs: 100 });
    const runs = Array.from({ length: 22 }, () => g.run());
    await g.settle();
    assert.equal(g.gate.expectedWaitMs(), 1050, 'the 21st in line would wait 1050 ms');
    assert.equal(g.gate.announce(), 2, 'refused: the line drains in 2 s');
    assert.equal(await refusedNow(g), 2, 'run() refuses by the same rule as announce()');
    await g.drain(100);
    await Promise.all(runs.map((r) => r.promise));
    assert.deepEqual(
      runs.map((r) => r.outcome.value),
      Array(22).fill('done'),
    );
    assert.equal(g.most(), 2);
    assert.equal(g.gate.expectedWaitMs(), 0, 'idle again');
  });

  it('a crowd whose line fits in the time waits and is served whole, where four rounds of line would have shed most of it', async () => {
    // 300 sign-ups' hashes at 16 ms a slot, 2 slots: the last waits 300 × 8 = 2400 ms, inside 5000.
    const g = gateOnClock({ concurrency: 2, maxWaitMs: 5000, maxQueued: 2000, announcedMs: 500, firstGuessMs: 50 });
    const warm = g.run();
    await g.drain(16);
    await warm.promise;
    const crowd = Array.from({ length: 300 }, () => g.run());
    await g.settle();
    assert.ok(g.gate.expectedWaitMs() <= 5000, 'one more still fits');
    await g.drain(16);
    await Promise.all(crowd.map((r) => r.promise));
    const refused = crowd.filter((r) => r.outcome.value !== 'done').length;
    assert.equal(refused, 0, `${refused} of 300 were refused`);
  });

  it('a flood past the time is refused at once, each with the seconds until the line ahead drains', async () => {
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 5000, maxQueued: 100_000, announcedMs: 500, firstGuessMs: 50 });
    const warm = g.run();
    await g.drain(20);
    await warm.promise;
    // 20 ms a hash: the line admits n ahead while (n + 1) × 20 ≤ 5000, so 1 running and 250 waiting.
    const flood = Array.from({ length: 3000 }, () => g.run());
    await g.settle();
    // No time has passed and nothing ended: every refusal came at once.
    const refusals = flood.map((r) => r.outcome.value).filter((v) => typeof v === 'number');
    assert.equal(refusals.length, 3000 - 251);
    assert.deepEqual([...new Set(refusals)], [6], 'the line of 250 ahead drains in 5.02 s: Retry-After 6');
    // As the line drains, room comes back: after 20 ends, a newcomer is let in again.
    for (let i = 0; i < 20; i++) await g.endOldest(20);
    assert.ok(g.gate.expectedWaitMs() <= 5000);
    await g.drain(20);
    await Promise.all(flood.map((r) => r.promise));
    assert.equal(flood.filter((r) => r.outcome.value === 'done').length, 251);
  });

  it('the rate follows the measured durations: slower tasks make the line shorter, faster ones longer', async () => {
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 1000, maxQueued: 100_000, announcedMs: 500, firstGuessMs: 10 });
    const lineLetIn = async () => {
      const runs = Array.from({ length: 500 }, () => g.run());
      await g.settle();
      return runs;
    };
    const measureAt = async (ms: number) => {
      // 30 tasks of ms each: the recent durations are all ms.
      for (let i = 0; i < 30; i++) {
        const r = g.run();
        await g.drain(ms);
        await r.promise;
      }
    };
    await measureAt(100);
    let runs = await lineLetIn();
    // 1 running, then (n + 1) × ~100 ≤ 1000: about 9 wait.
    const slow = runs.filter((r) => r.outcome.value === undefined).length;
    await g.drain(100);
    await Promise.all(runs.map((r) => r.promise));
    await measureAt(10);
    runs = await lineLetIn();
    const fast = runs.filter((r) => r.outcome.value === undefined).length;
    await g.drain(10);
    await Promise.all(runs.map((r) => r.promise));
    assert.ok(slow >= 9 && slow <= 11, `at 100 ms a task, ${slow} were let in`);
    assert.ok(fast >= 95 && fast <= 101, `at 10 ms a task, ${fast} were let in`);
  });

  it('announced tasks count in line until they come: a burst is judged whole before its flows do their work', async () => {
    // Guess 100 ms, 1 slot: the n-th announced waits n × 100 ms once the slot is taken; 1000 ms lets 11 in.
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 1000, maxQueued: 1000, announcedMs: 500, firstGuessMs: 100 });
    const letIn = Array.from({ length: 30 }, () => g.gate.announce()).filter((r) => r === null).length;
    assert.equal(letIn, 11);
    assert.equal(g.gate.announce(), 2, 'the 12th would wait 1100 ms: the line drains in 2 s');
    // The 11 come, their flows' work done: each takes its own place, none is counted twice or refused.
    const runs = Array.from({ length: 11 }, () => g.run());
    await g.settle();
    assert.equal(g.gate.expectedWaitMs(), 1100);
    await g.drain(100);
    await Promise.all(runs.map((r) => r.promise));
    assert.ok(runs.every((r) => r.outcome.value === 'done'));
    assert.equal(g.gate.expectedWaitMs(), 0);
  });

  it('a task that comes is judged by the line really ahead of it, not by the announced ones behind it', async () => {
    // Guess 100 ms, 1 slot: A runs, B waits, then 9 are announced ((9 + 1) × 100 ≤ 1000).
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 1000, maxQueued: 1000, announcedMs: 5000, firstGuessMs: 100 });
    const first = [g.run(), g.run()];
    await g.settle();
    for (let i = 0; i < 9; i++) assert.equal(g.gate.announce(), null);
    assert.equal(g.gate.announce(), 2);
    // A took 300 ms: the rate is a third of the guess. B runs; the announced come one by one.
    await g.endOldest(300);
    const announced = Array.from({ length: 9 }, () => g.run());
    await g.settle();
    // The first of them waits behind B alone (300 ms), the second 600, the third 900; the rest
    // would wait past 1000 ms behind those three and are refused, each with Retry-After 2.
    assert.deepEqual(
      announced.map((r) => r.outcome.value),
      [undefined, undefined, undefined, 2, 2, 2, 2, 2, 2],
    );
    await g.drain(300);
    await Promise.all([...first, ...announced].map((r) => r.promise));
    assert.equal(announced.filter((r) => r.outcome.value === 'done').length, 3);
  });

  it('an announced task that never comes (its flow ended first) stops counting after announcedMs', async () => {
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 1000, maxQueued: 1000, announcedMs: 500, firstGuessMs: 100 });
    for (let i = 0; i < 11; i++) assert.equal(g.gate.announce(), null);
    assert.equal(g.gate.announce(), 2);
    g.tick(499);
    assert.equal(g.gate.announce(), 2, 'still counted at 499 ms');
    g.tick(2);
    assert.equal(g.gate.expectedWaitMs(), 0, 'none counted after 500 ms');
    assert.equal(g.gate.announce(), null);
  });

  it('the first tasks of a burst, slowed while the process reads it, do not swing the rate', async () => {
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 1000, maxQueued: 100_000, announcedMs: 500, firstGuessMs: 10 });
    const measureAt = async (ms: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const r = g.run();
        await g.drain(ms);
        await r.promise;
      }
    };
    await measureAt(20, 16);
    await measureAt(800, 2);
    const runs = Array.from({ length: 100 }, () => g.run());
    await g.settle();
    // Still 20 ms a task: 1 running and 50 waiting (the last with 49 ahead: 50 × 20 ≤ 1000), not the
    // one that 800 ms a task would let wait.
    assert.equal(runs.filter((r) => r.outcome.value === undefined).length, 51);
    await g.drain(20);
    await Promise.all(runs.map((r) => r.promise));
  });

  it('maxQueued bounds the line whatever the time allows, still with a Retry-After of at least 1', async () => {
    const g = gateOnClock({ concurrency: 1, maxWaitMs: 600_000, maxQueued: 3, announcedMs: 500, firstGuessMs: 1 });
    const runs = Array.from({ length: 4 }, () => g.run());
    await g.settle();
    assert.equal(await refusedNow(g), 1, 'the line of 3 drains in 4 ms: Retry-After is at least 1 s');
    await g.drain(1);
    await Promise.all(runs.map((r) => r.promise));
    assert.ok(runs.every((r) => r.outcome.value === 'done'));
  });

  it('a task that throws frees its slot, and its time counts', async () => {
    let ms = 0;
    const gate = createGate({
      concurrency: 1,
      maxWaitMs: 1000,
      maxQueued: 10,
      announcedMs: 500,
      firstGuessMs: 1,
      now: () => ms,
    });
    const failing = async () => {
      ms += 400;
      throw new Error('task failed');
    };
    await assert.rejects(gate.run(failing, overloaded), /task failed/);
    let end!: () => void;
    const next = gate.run(() => new Promise<string>((resolve) => (end = () => resolve('next'))), overloaded);
    assert.equal(gate.expectedWaitMs(), 400, 'the failed task measured 400 ms');
    end();
    assert.equal(await next, 'next');
  });
});
