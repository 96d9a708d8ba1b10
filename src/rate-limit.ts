import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { AppError } from './errors.ts';

export interface LimiterSpec {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
}

/** Counters in memory by default; in Redis when a client is given, so instances share them. */
export type LimiterFactory = (spec: LimiterSpec) => Limiter;

export interface Limiter {
  /** Takes one point for key, or throws AppError rate_limited with Retry-After. */
  consume(key: string, message: string): Promise<void>;
  /** Seconds until key has a point again: 0 when it has one now. Spends nothing. */
  waitSeconds(key: string): Promise<number>;
}

export function limiterFactory(redis?: Redis): LimiterFactory {
  return (spec) => {
    if (spec.durationSeconds <= 0) return { consume: async () => {}, waitSeconds: async () => 0 };
    const opts = { keyPrefix: `panic:${spec.keyPrefix}`, points: spec.points, duration: spec.durationSeconds };
    // When Redis is down, counting goes on in memory rather than failing the request; while the
    // client is not ready (reconnecting), without even trying Redis.
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(opts) })
      : new RateLimiterMemory(opts);
    return {
      async consume(key, message) {
        try {
          await limiter.consume(key);
        } catch (err) {
          if (err instanceof RateLimiterRes) {
            throw new AppError('rate_limited', message, Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
          }
          throw err;
        }
      },
      async waitSeconds(key) {
        // A store that does not answer counts as "not spent": consume() still enforces the limit.
        const res = await limiter.get(key).catch(() => null);
        return res && res.consumedPoints >= spec.points ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 0;
      },
    };
  };
}
