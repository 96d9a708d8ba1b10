import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../platform/logger.ts';

/**
 * How long the "same answer for every address" endpoints take, at least. A known address queues a
 * code (a transaction, a template) and an unknown one does not: 2–3 ms a stopwatch could read.
 */
export const EVEN_ANSWER_MS = 50;

/** Hands over what only a known address does, so that the answer never waits for it. */
export type Defer = (privateWork: () => Promise<void>) => void;

/**
 * Runs `work`, which every address goes through alike (limits, the lookup), and answers (or fails)
 * no sooner than EVEN_ANSWER_MS after the start. What `work` defers (queueing a code) starts at once
 * and runs on past the answer when it is slow: under load it took longer than the floor, and an
 * answer that waited for it told a known address from an unknown one. Its failures are logged.
 */
export async function answerEvenly<T>(logger: Logger, work: (defer: Defer) => Promise<T>): Promise<T> {
  const started = performance.now();
  const defer: Defer = (privateWork) => {
    privateWork().catch((err) => logger.error({ err }, 'queueing a code failed after the answer was given'));
  };
  try {
    return await work(defer);
  } finally {
    const left = EVEN_ANSWER_MS - (performance.now() - started);
    if (left > 0) await sleep(left);
  }
}
