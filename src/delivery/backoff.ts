/** Seconds before retry number `attempt` (1-based): doubling from base, capped at an hour, ±25% jitter. */
export function retryDelaySeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  const exponential = Math.min(3600, baseSeconds * 2 ** Math.max(0, attempt - 1));
  return exponential * (0.75 + random() * 0.5);
}
