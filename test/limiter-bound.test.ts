/**
 * Issue 8, item 7: the in-memory rate limiter kept a key per unknown address for an hour (219 → 343
 * MiB after 176 k such requests). Each limiter now holds at most MAX_KEYS_PER_LIMITER keys, the
 * oldest window evicted first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AppError } from '../src/shared/errors.ts';
import { BoundedMemoryLimiter, limiterFactory, MAX_KEYS_PER_LIMITER } from '../src/platform/rate-limit.ts';

/** Keys the limiter's store holds right now (its own dump, not our bookkeeping). */
const storedKeys = (limiter: BoundedMemoryLimiter) => limiter.dump().storage.map((s) => s.key);

describe('bounded in-memory limiter', () => {
  it('never holds more than its bound: the oldest keys go first, the newest keep their counts', async () => {
    const limiter = new BoundedMemoryLimiter({ keyPrefix: 't', points: 2, duration: 3600 }, 1000);
    for (let i = 0; i < 5000; i += 1) await limiter.consume(`k${i}`);
    const keys = storedKeys(limiter);
    assert.equal(keys.length, 1000);
    assert.deepEqual(
      keys.sort(),
      Array.from({ length: 1000 }, (_, i) => `k${4000 + i}`).sort(),
      'the 1000 newest stay',
    );
    assert.equal(await limiter.get('k0'), null, 'the oldest went first');

    // A kept key still counts: its second point is its last.
    assert.equal((await limiter.consume('k4999')).consumedPoints, 2);
    await assert.rejects(limiter.consume('k4999'), (res: { consumedPoints: number }) => res.consumedPoints === 3);
    // Using a key again within its window does not make it younger: its window is as old as before.
    await limiter.consume('k4000');
    await limiter.consume('new');
    assert.equal(await limiter.get('k4000'), null);
    assert.equal(storedKeys(limiter).length, 1000);
  });

  it('a key whose window starts again counts as new: it outlives keys whose windows started before', async (t) => {
    t.mock.timers.enable({ apis: ['Date', 'setTimeout'] });
    const limiter = new BoundedMemoryLimiter({ keyPrefix: 't', points: 5, duration: 60 }, 3);
    for (const key of ['a', 'b', 'c']) await limiter.consume(key);
    t.mock.timers.tick(61_000);
    await limiter.consume('a'); // a new window for a: now the youngest
    await limiter.consume('d');
    await limiter.consume('e');
    assert.deepEqual(storedKeys(limiter).sort(), ['a', 'd', 'e']);
    assert.equal((await limiter.get('a'))?.consumedPoints, 1);
  });

  it(`the service's limiters stop growing at ${MAX_KEYS_PER_LIMITER} keys: 300 000 unknown addresses cost what 100 000 do`, {
    timeout: 120_000,
  }, async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    // The hourly send cap per destination: what a flood of made-up addresses filled.
    const hourly = limiterFactory()({ keyPrefix: 'otp-hourly', points: 5, durationSeconds: 3600 });
    const spend = async (from: number, to: number) => {
      for (let i = from; i < to; i += 1) await hourly.consume(`unknown.${i}@example.test`, 'too many');
    };
    const start = heap();
    await spend(0, MAX_KEYS_PER_LIMITER);
    const atBound = heap();
    await spend(MAX_KEYS_PER_LIMITER, 3 * MAX_KEYS_PER_LIMITER);
    const after = heap();
    const first = atBound - start;
    const rest = after - atBound;
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    t.diagnostic(
      `first ${MAX_KEYS_PER_LIMITER} keys: +${mib(first)}; the next ${2 * MAX_KEYS_PER_LIMITER}: +${mib(rest)}`,
    );
    assert.ok(first > 10 * 1048576, `the first keys do cost memory (${mib(first)}): the measure works`);
    assert.ok(rest < first / 5, `twice as many keys again add almost nothing (${mib(rest)} after ${mib(first)})`);

    // The newest addresses are still limited.
    const last = `unknown.${3 * MAX_KEYS_PER_LIMITER - 1}@example.test`;
    for (let i = 1; i < 5; i += 1) await hourly.consume(last, 'too many');
    await assert.rejects(
      hourly.consume(last, 'too many'),
      (err) => err instanceof AppError && err.code === 'rate_limited',
    );
  });
});
