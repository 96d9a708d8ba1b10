/** The longest wait between two attempts, jitter included. */
export const MAX_RETRY_DELAY_SECONDS = 3600;
const JITTER = 0.25;

/**
 * Seconds before retry number `attempt` (1-based): doubling from base, ±25% jitter. The doubling stops
 * at an hour less the jitter (48 min), so the wait never passes an hour and late retries still spread.
 */
export function retryDelaySeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  const exponential = Math.min(MAX_RETRY_DELAY_SECONDS / (1 + JITTER), baseSeconds * 2 ** Math.max(0, attempt - 1));
  return exponential * (1 - JITTER + random() * 2 * JITTER);
}
