/**
 * At most `concurrency` tasks run at once; the rest wait in line while the wait a newcomer can expect
 * fits in `maxWaitMs`. The expected wait is the line ahead divided by the rate the gate measures from
 * its own tasks' durations, so a crowd that can be served in time is served, and only the part of a
 * flood that could not be is refused, at once, with the seconds until the line ahead drains.
 */
export interface GateRule {
  /** Tasks at once. */
  concurrency: number;
  /** The longest wait (ms) a task is expected to spend in line and still be let in. */
  maxWaitMs: number;
  /** The most tasks in line whatever the wait: the safety net that bounds memory. */
  maxQueued: number;
  /** A task's duration (ms) assumed until one has been measured. */
  firstGuessMs: number;
  /** Milliseconds on a clock that only moves forward (performance.now; tests move their own). */
  now: () => number;
}

export interface Gate {
  /** Runs task when a slot is free, or refuses it at once (throwing overloaded's error) when the rule says no. */
  run<T>(task: () => Promise<T>, overloaded: (retryAfterSeconds: number) => Error): Promise<T>;
  /** null when a task arriving now would be let in; else the seconds until the line ahead of it drains (≥ 1). */
  retryAfter(): number | null;
  /** How long (ms) a task arriving now is expected to wait before it starts. */
  expectedWaitMs(): number;
}

/** Weight of the newest duration in the moving average: about the last ten tasks count. */
const NEWEST_WEIGHT = 0.2;

export function createGate(rule: GateRule): Gate {
  const { concurrency, maxWaitMs, maxQueued, now } = rule;
  let running = 0;
  let averageMs: number | undefined;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  const measured = (ms: number) => {
    averageMs = averageMs === undefined ? ms : averageMs + NEWEST_WEIGHT * (ms - averageMs);
  };
  // Every slot frees once per task duration, so the line ahead plus the newcomer drains at
  // `concurrency` tasks per average duration.
  const expectedWaitMs = () =>
    running < concurrency ? 0 : ((waiting.length + 1) * (averageMs ?? rule.firstGuessMs)) / concurrency;
  const retryAfter = () => {
    if (running < concurrency) return null;
    const wait = expectedWaitMs();
    if (waiting.length < maxQueued && wait <= maxWaitMs) return null;
    return Math.max(1, Math.ceil(wait / 1000));
  };

  return {
    retryAfter,
    expectedWaitMs,
    async run(task, overloaded) {
      if (running >= concurrency) {
        const refused = retryAfter();
        if (refused !== null) throw overloaded(refused);
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running += 1;
      }
      const started = now();
      try {
        return await task();
      } finally {
        measured(now() - started);
        release();
      }
    },
  };
}
