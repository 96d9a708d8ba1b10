export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  what?: string;
}

/**
 * Polls `fn` until it returns a truthy value and resolves with it.
 * An exception thrown by `fn` rejects immediately (it is a bug, not "not yet").
 */
export async function waitUntil<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

/**
 * Shared `waitFor` of the message-capturing fixtures: newest message addressed to `to`
 * once at least `count` of them exist.
 */
export async function waitForMessage<M>(
  messages: readonly M[],
  matches: (m: M) => boolean,
  label: string,
  opts: { timeoutMs?: number; count?: number } = {},
): Promise<M> {
  const { timeoutMs = 5000, count = 1 } = opts;
  try {
    return await waitUntil(
      () => {
        const hits = messages.filter(matches);
        return hits.length >= count ? { m: hits[hits.length - 1] } : undefined;
      },
      { timeoutMs, what: count > 1 ? `${count} x ${label}` : label },
    ).then((r) => r.m);
  } catch (err) {
    const got = messages.filter(matches).length;
    throw new Error(
      `${(err as Error).message} after ${timeoutMs} ms (matching: ${got}, total received: ${messages.length})`,
    );
  }
}
