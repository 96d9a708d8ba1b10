import { setTimeout as sleep } from 'node:timers/promises';
import type { Services } from '../runtime/services.ts';

/**
 * Subscribes to "a row was committed" (LISTEN, or PGlite's own), with a payload when the sender has
 * one (the outbox: the message's channel); answers the unsubscribe.
 */
export type Listen = (onNotify: (payload?: string) => void) => Promise<() => Promise<void>>;

export type LifecycleDeps<K extends string> = Pick<Services, 'logger'> & {
  /** What each loop waits on: a channel, an endpoint. */
  keys: readonly K[];
  /** Wakes the loops the moment a row is committed; without it, they poll. */
  listen?: Listen;
  /** A notification's payload names the one loop to wake (the outbox's channel); otherwise it wakes them all. */
  wakeByPayload: boolean;
  /** What the loops send, for the warning when LISTEN fails: "messages", "webhooks". */
  what: string;
  shutdownTimeoutSeconds: number;
};

export interface WorkerLifecycle<K extends string> {
  /** Between start() and stop(): each loop runs while it holds. */
  readonly running: boolean;
  /** The wake-ups of a loop so far: read before a claim, so that one arriving during it is not lost. */
  seen(key: K): number;
  /** Wakes one loop (a row of it committed, a slot of it freed), or all of them. */
  wake(key?: string): void;
  /** Waits ms, or until the loop is woken after wake-up `seen`. */
  pause(key: K, ms: number, seen: number): Promise<void>;
  /** Starts the loops, then LISTENs. */
  start(loops: () => Promise<void>[]): void;
  /**
   * Ends the loops and waits for what is in flight, at most SHUTDOWN_TIMEOUT_SECONDS; then hands
   * `settled` (all in flight ended) to onDeadline, which cuts them short or hands them back.
   */
  stop(inFlight: () => Promise<unknown>[], onDeadline: (settled: Promise<unknown>) => Promise<void>): Promise<void>;
}

/** The part the delivery and webhook workers share: loops that LISTEN, wake, poll and drain on stop. */
export function workerLifecycle<K extends string>(deps: LifecycleDeps<K>): WorkerLifecycle<K> {
  const { logger } = deps;
  let running = false;
  let loops: Promise<void>[] = [];
  let unlisten: (() => Promise<void>) | undefined;
  const waits = new Map<string, { wakeups: number; wakers: Set<() => void> }>(
    deps.keys.map((k) => [k, { wakeups: 0, wakers: new Set() }]),
  );
  const waitOf = (key: K) => waits.get(key)!;
  const wake = (key?: string) => {
    for (const [k, w] of waits) {
      if (key !== undefined && key !== k) continue;
      w.wakeups++;
      for (const done of [...w.wakers]) done();
    }
  };

  return {
    get running() {
      return running;
    },
    seen: (key) => waitOf(key).wakeups,
    wake,
    pause: (key, ms, seen) =>
      new Promise<void>((resolve) => {
        const w = waitOf(key);
        if (w.wakeups !== seen) return resolve();
        const done = () => {
          clearTimeout(timer);
          w.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        w.wakers.add(done);
      }),
    start(begin) {
      if (running) return;
      running = true;
      loops = begin();
      deps
        .listen?.(deps.wakeByPayload ? wake : () => wake())
        .then((off) => {
          if (!running) return void off();
          unlisten = off;
          wake(); // for what was committed between the first claim and the LISTEN
        })
        .catch((err) =>
          logger.warn({ err }, `could not LISTEN for new ${deps.what}; the worker polls every DELIVERY_POLL_MS`),
        );
    },
    async stop(inFlight, onDeadline) {
      running = false;
      wake();
      await unlisten?.().catch(() => {});
      unlisten = undefined;
      await Promise.all(loops);
      const settled = Promise.all(inFlight());
      const deadline = sleep(deps.shutdownTimeoutSeconds * 1000, 'deadline' as const, { ref: false });
      if ((await Promise.race([settled.then(() => 'settled' as const), deadline])) === 'deadline')
        await onDeadline(settled);
    },
  };
}
