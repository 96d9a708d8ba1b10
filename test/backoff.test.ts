/** The retry delays the README promises: doubling from the base, ±25 % jitter, never past an hour. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from '../src/delivery/backoff.ts';

const lowest = () => 0;
const highest = () => 1;

describe('retry backoff', () => {
  it('doubles from DELIVERY_RETRY_BASE_SECONDS, within ±25 %', () => {
    assert.equal(retryDelaySeconds(1, 5, lowest), 3.75);
    assert.equal(retryDelaySeconds(1, 5, highest), 6.25);
    assert.equal(
      retryDelaySeconds(1, 5, () => 0.5),
      5,
    );
    assert.equal(
      retryDelaySeconds(2, 5, () => 0.5),
      10,
    );
    assert.equal(
      retryDelaySeconds(4, 5, () => 0.5),
      40,
    );
  });

  it('never waits more than an hour, jitter included, however many attempts', () => {
    assert.equal(MAX_RETRY_DELAY_SECONDS, 3600);
    for (const attempt of [11, 12, 20, 60])
      assert.equal(retryDelaySeconds(attempt, 5, highest), 3600, `attempt ${attempt}`);
    for (let attempt = 1; attempt <= 60; attempt++) {
      for (let i = 0; i < 50; i++) assert.ok(retryDelaySeconds(attempt, 5) <= 3600, `attempt ${attempt}`);
    }
    assert.equal(retryDelaySeconds(1, 100_000, highest), 3600, 'a base past an hour is capped too');
  });

  it('late retries still spread (36 to 60 minutes), so a backlog does not retry all at once', () => {
    assert.equal(retryDelaySeconds(20, 5, lowest), 2160);
    assert.equal(
      retryDelaySeconds(20, 5, () => 0.5),
      2880,
    );
  });
});
