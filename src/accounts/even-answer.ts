import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';

/**
 * How long the "same answer for every address" endpoints take, at least. A known address queues a
 * code (a transaction, a template) and an unknown one does not: 2–3 ms a stopwatch could read.
 */
export const EVEN_ANSWER_MS = 50;

/** Hands over what only a known address does, to run after the answer. */
export type Defer = (privateWork: () => Promise<void>) => void;

/**
 * Runs `work`, which every address goes through alike (limits, the lookup), and answers (or fails)
 * no sooner than EVEN_ANSWER_MS after the start. What `work` defers (queueing a known address's code)
 * runs once the answer is on its way: run beside the answer it took longer than the floor under load
 * (p90 46 ms, max 58 ms on PGlite here), and PGlite, in this very thread, held the answer back with
 * it. Its failures are logged.
 */
export async function answerEvenly<T>(logger: Logger, work: (defer: Defer) => Promise<T>): Promise<T> {
  const started = performance.now();
  const deferred: Array<() => Promise<void>> = [];
  try {
    return await work((privateWork) => deferred.push(privateWork));
  } finally {
    const left = EVEN_ANSWER_MS - (performance.now() - started);
    if (left > 0) await sleep(left);
    // setImmediate: after the answer's bytes are written (promise callbacks run first).
    setImmediate(() => {
      for (const privateWork of deferred) {
        privateWork().catch((err) => logger.error({ err }, 'queueing a code failed after the answer was given'));
      }
    });
  }
}
