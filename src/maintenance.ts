import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import type { Db } from './db/client.ts';
import type { Logger } from './logger.ts';
import { pruneUnverifiedAccounts } from './accounts/users.ts';

/** Housekeeping that runs beside the worker: today, removing accounts never verified in time. */
export interface Maintenance {
  runOnce(): Promise<{ unverifiedAccounts: number }>;
  start(): void;
  stop(): void;
}

const EVERY_MS = 10 * 60 * 1000;

export function createMaintenance(deps: { db: Db; config: Pick<Config, 'UNVERIFIED_ACCOUNT_TTL_HOURS'>; clock: Clock; logger: Logger }): Maintenance {
  let timer: NodeJS.Timeout | undefined;
  const runOnce = async () => {
    const unverifiedAccounts = await pruneUnverifiedAccounts(deps.db, deps.clock(), deps.config.UNVERIFIED_ACCOUNT_TTL_HOURS);
    if (unverifiedAccounts) deps.logger.info({ removed: unverifiedAccounts }, 'removed accounts never verified within UNVERIFIED_ACCOUNT_TTL_HOURS');
    return { unverifiedAccounts };
  };
  const tick = () => runOnce().catch((err) => deps.logger.warn({ err }, 'maintenance failed; it runs again in 10 minutes'));
  return {
    runOnce,
    start() {
      if (timer) return;
      void tick();
      timer = setInterval(tick, EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
