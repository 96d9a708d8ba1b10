import type { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

/** How long a rate-limit command may wait on Redis before the limit is counted in memory instead. */
const REDIS_COMMAND_TIMEOUT_MS = 200;

/**
 * The client of the shared rate limits, connected before serving so limits are shared from the first
 * request. Redis going away, at start or later, never fails or holds up a request: rate-limiter-
 * flexible counts in memory (its insurance limiter) until the client is ready again.
 */
export async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  // Loaded here, not at the top: a service without REDIS_URL never holds ioredis in memory.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    // Not connected: fail at once (and count in memory) rather than queue behind the outage.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A silent Redis (a dead route) answers nothing: give up on a command after 200 ms, and drop a
    // connection that owes an answer for a second, so the commands after it fail at once instead of
    // each waiting. A second, not 200 ms: a busy event loop must not drop a live connection.
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    socketTimeout: 1000,
    connectTimeout: 2000,
    // A command that timed out was counted in memory: sent again after a reconnect, it would count twice.
    autoResendUnfulfilledCommands: false,
    // At least one attempt a second, so limits are shared again soon after Redis is back.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  // One line when the connection is lost and one when it is back, not one per reconnect attempt.
  let lost = false;
  let lastError = '';
  redis.on('error', (err) => {
    lastError = err.message;
  });
  redis.on('close', () => {
    if (lost) return;
    lost = true;
    logger.warn({ err: lastError }, 'Redis is not answering: rate limits are counted in this process until it is back');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.info('Redis is back: rate limits are shared again');
  });
  // A refusal at start is logged by the listeners above, and the client keeps trying.
  await redis.connect().catch(() => {});
  return redis;
}
