import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { AppError } from '../shared/errors.ts';

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
  /** Points spent on key in its current window (0 when none, or when the store does not answer). Spends nothing. */
  count(key: string): Promise<number>;
}

/**
 * Keys one in-memory limiter holds at most. RateLimiterMemory keeps every key until its window ends
 * (about 600 bytes each with its timer and our order, measured), so made-up addresses grew the heap
 * without end. 100 000 caps a limiter near 60 MiB and is still about 7 times the destinations honest traffic puts
 * in one hourly window (1 M registrations a month is ~1 400 an hour; a 10x peak, 14 000). Past it a
 * flood pushes out the oldest windows, never the process's memory; several instances share Redis,
 * which has no such bound.
 */
export const MAX_KEYS_PER_LIMITER = 100_000;

/**
 * RateLimiterMemory with at most maxKeys keys: a new key past the bound evicts the key whose window
 * started first (the nearest to its end, so the least is forgotten). Still a RateLimiterMemory, so
 * it also serves as Redis's insurance limiter.
 */
export class BoundedMemoryLimiter extends RateLimiterMemory {
  /** Keys in the order their windows started, oldest first (a Set iterates in insertion order). */
  readonly #keys = new Set<string>();
  /**
   * Where eviction goes on from: everything before it is gone. A new iterator would walk past every
   * deleted slot from the start each time, which made a flood quadratic.
   */
  #oldest = this.#keys.values();

  constructor(
    opts: ConstructorParameters<typeof RateLimiterMemory>[0],
    readonly maxKeys = MAX_KEYS_PER_LIMITER,
  ) {
    super(opts);
  }

  override consume(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return super.consume(key, points, options).then(
      (res) => this.#track(key, res),
      (refused: unknown) => {
        if (refused instanceof RateLimiterRes) this.#track(key, refused);
        throw refused;
      },
    );
  }

  override penalty(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return super.penalty(key, points, options).then((res) => this.#track(key, res));
  }

  override reward(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return super.reward(key, points, options).then((res) => this.#track(key, res));
  }

  override set(key: string | number, points: number, seconds: number, options?: Options): Promise<RateLimiterRes> {
    return super.set(key, points, seconds, options).then((res) => this.#track(key, res, true));
  }

  override block(key: string | number, seconds: number, options?: Options): Promise<RateLimiterRes> {
    return super.block(key, seconds, options).then((res) => this.#track(key, res, true));
  }

  override delete(key: string | number, options?: Options): Promise<boolean> {
    this.#keys.delete(String(key));
    return super.delete(key, options);
  }

  #track(key: string | number, res: RateLimiterRes, fresh = res.isFirstInDuration): RateLimiterRes {
    const k = String(key);
    if (fresh) this.#keys.delete(k);
    this.#keys.add(k);
    while (this.#keys.size > this.maxKeys) {
      let next = this.#oldest.next();
      if (next.done) {
        this.#oldest = this.#keys.values();
        next = this.#oldest.next();
      }
      this.#keys.delete(next.value as string);
      void super.delete(next.value as string);
    }
    return res;
  }
}

type Options = Record<string, unknown>;

export function limiterFactory(redis?: Redis): LimiterFactory {
  return (spec) => {
    if (spec.durationSeconds <= 0) return { consume: async () => {}, waitSeconds: async () => 0, count: async () => 0 };
    const opts = { keyPrefix: `panic:${spec.keyPrefix}`, points: spec.points, duration: spec.durationSeconds };
    // When Redis is down, counting goes on in memory rather than failing the request; while the
    // client is not ready (reconnecting), without even trying Redis.
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({
          ...opts,
          storeClient: redis,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new BoundedMemoryLimiter(opts),
        })
      : new BoundedMemoryLimiter(opts);
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
      async count(key) {
        const res = await limiter.get(key).catch(() => null);
        return res?.consumedPoints ?? 0;
      },
    };
  };
}
