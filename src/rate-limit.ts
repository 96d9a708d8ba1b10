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
}

export function limiterFactory(redis?: Redis): LimiterFactory {
  return (spec) => {
    if (spec.durationSeconds <= 0) return { consume: async () => {} };
    const opts = { keyPrefix: `panic:${spec.keyPrefix}`, points: spec.points, duration: spec.durationSeconds };
    // When Redis is down, counting goes on in memory rather than failing the request.
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) })
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
    };
  };
}
