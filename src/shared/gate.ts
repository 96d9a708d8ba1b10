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
  /** The most tasks in line (announced ones too) whatever the wait: the safety net that bounds memory. */
  maxQueued: number;
  /** How long (ms) an announced task counts in line before it comes: the work its flow does first. */
  announcedMs: number;
  /** A task's duration (ms) assumed until one has been measured. */
  firstGuessMs: number;
  /** Milliseconds on a clock that only moves forward (performance.now; tests move their own). */
  now: () => number;
}

export interface Gate {
  /** Runs task when a slot is free, or refuses it at once (throwing overloaded's error) when the rule says no. */
  run<T>(task: () => Promise<T>, overloaded: (retryAfterSeconds: number) => Error): Promise<T>;
  /**
   * A task to come, once its flow has done some work first: null when the rule lets it in, and it then
   * counts in the line until it comes or announcedMs pass, so that a burst is judged whole, before its
   * work is spent; else the seconds until the line ahead drains (≥ 1), and nothing is counted.
   */
  announce(): number | null;
  /** How long (ms) a task arriving now is expected to wait before it starts. */
  expectedWaitMs(): number;
}

/**
 * The rate is the median of the last 16 tasks' durations: it follows a change within eight tasks,
 * and the first tasks of a burst, whose ends wait while the process reads the burst, do not swing it.
 */
const RECENT = 16;

export function createGate(rule: GateRule): Gate {
  const { concurrency, maxWaitMs, maxQueued, now } = rule;
  let running = 0;
  /** The last RECENT durations, oldest first. */
  const recent: number[] = [];
  let typicalMs: number | undefined;
  const waiting: Array<() => void> = [];
  /** When each announced task was announced, oldest first. */
  const announced: number[] = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  const measured = (ms: number) => {
    recent.push(ms);
    if (recent.length > RECENT) recent.shift();
    const sorted = [...recent].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    typicalMs = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  /** Tasks announced and not come, those announced more than announcedMs ago forgotten. */
  const announcedNow = () => {
    const since = now() - rule.announcedMs;
    while (announced.length && announced[0] < since) announced.shift();
    return announced.length;
  };
  // Every slot frees once per task duration, so the line ahead of a task (past the free slots) and
  // the task drain at `concurrency` tasks per typical duration.
  const waitBehind = (ahead: number) => {
    const line = ahead - (concurrency - running);
    return line < 0 ? 0 : ((line + 1) * (typicalMs ?? rule.firstGuessMs)) / concurrency;
  };
  const refusal = (ahead: number) => {
    const wait = waitBehind(ahead);
    if (wait === 0 || (ahead < maxQueued && wait <= maxWaitMs)) return null;
    return Math.max(1, Math.ceil(wait / 1000));
  };
  // A newcomer comes after the tasks waiting and those announced before it.
  const newcomerAhead = () => waiting.length + announcedNow();

  return {
    expectedWaitMs: () => waitBehind(newcomerAhead()),
    announce() {
      const refused = refusal(newcomerAhead());
      if (refused === null) announced.push(now());
      return refused;
    },
    async run(task, overloaded) {
      // The task takes the place it was announced with (any announced one: they are alike), and is
      // judged by the line really ahead of it: the tasks announced and not come are behind it.
      if (announcedNow()) announced.shift();
      if (running >= concurrency) {
        const refused = refusal(waiting.length);
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
