/**
 * At most `concurrency` tasks run at once and at most `queue` wait; past that a task is refused at
 * once, so a flood is shed instead of queueing behind work it cannot finish in time.
 */
export interface Gate {
  /** Runs task when a slot is free; `overloaded` is called (and its error thrown) when the queue is full. */
  run<T>(task: () => Promise<T>, overloaded: () => Error): Promise<T>;
  /** Every slot busy and the queue full: a run() now would be refused. */
  full(): boolean;
}

export function createGate(concurrency: number, queue: number): Gate {
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  const full = () => running >= concurrency && waiting.length >= queue;
  return {
    full,
    async run(task, overloaded) {
      if (running >= concurrency) {
        if (full()) throw overloaded();
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running += 1;
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
