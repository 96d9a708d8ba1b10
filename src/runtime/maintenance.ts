import { applyRetention, type RetentionCounts, type RetentionRun } from '../platform/db/retention.ts';
import type { Services } from './services.ts';
import { recordRemovedAccounts } from '../accounts/erasure.ts';

/** Housekeeping that runs beside the worker: retention (src/platform/db/retention.ts), every 10 minutes. */
export interface Maintenance {
  /** One run now, to its end. */
  runOnce(): Promise<RetentionCounts>;
  /** A run now and every 10 minutes. */
  start(): void;
  /** Stops the timer; a run it started ends after its current batch, and this waits for it. */
  stop(): Promise<void>;
}

const EVERY_MS = 10 * 60 * 1000;

export function createMaintenance(deps: Pick<Services, 'db' | 'config' | 'clock' | 'logger' | 'metrics'>): Maintenance {
  let timer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();
  let running: Promise<unknown> | undefined;

  const run = async (signal?: AbortSignal) => {
    const now = deps.clock();
    const removed = await applyRetention(deps.db, deps.config, now, {
      signal,
      onRemoved: (table, rows) => deps.metrics.retentionRowsRemoved.inc({ table }, rows),
      alongside: accountRemovals(deps, now),
    });
    deps.logger.info({ removed }, 'retention: removed rows past their keeping time');
    return removed;
  };
  const tick = () => {
    // A first run through a year's backlog may outlast 10 minutes: never two at once.
    if (running) return;
    running = run(stopping.signal)
      .catch((err) => deps.logger.warn({ err }, 'maintenance failed; it runs again in 10 minutes'))
      .finally(() => (running = undefined));
  };
  return {
    runOnce: () => run(),
    start() {
      if (timer) return;
      stopping = new AbortController();
      tick();
      timer = setInterval(tick, EVERY_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      stopping.abort();
      await running;
    },
  };
}

/** What retention writes with the rows it removes: each account never verified is an event (and a webhook). */
export const accountRemovals = (deps: Pick<Services, 'config'>, now: Date): RetentionRun['alongside'] => ({
  users: (trx, ids) => recordRemovedAccounts(trx, deps, ids, 'never_verified', now),
});
