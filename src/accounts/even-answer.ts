import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long the "same answer for every address" endpoints take, at least. A known address queues a
 * code (a transaction, a template) and an unknown one does not; answering both at one fixed moment
 * hides that difference, which a stopwatch would otherwise read (2–3 ms, measured).
 */
export const EVEN_ANSWER_MS = 50;

/** Runs work and answers (or fails) no sooner than EVEN_ANSWER_MS after the start. */
export async function answerEvenly<T>(work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    const left = EVEN_ANSWER_MS - (performance.now() - started);
    if (left > 0) await sleep(left);
  }
}
