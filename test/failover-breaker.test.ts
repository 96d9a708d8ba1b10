/**
 * The circuit breaker's probe, against two stand-in providers on a clock moved by hand: when a
 * provider's pause ends, one send tries it while the others keep going to the other provider.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BREAKER_FAILURES, BREAKER_OPEN_SECONDS, createFailoverChannel } from '../src/delivery/channels/failover.ts';
import { DeliveryError, type DeliveryChannel } from '../src/delivery/channels/types.ts';
import type { Message } from '../src/platform/db/schema.ts';

/** A provider that counts the sends it gets; each waits for `gate` when set, then fails or succeeds. */
interface StandIn {
  sends: number;
  failing: boolean;
  gate: Promise<void> | undefined;
  channel: DeliveryChannel;
}

function provider(name: string): StandIn {
  const p: StandIn = {
    sends: 0,
    failing: false,
    gate: undefined,
    channel: {
      channel: 'sms',
      provider: name,
      status: () => ({ configured: true, settings: {}, placeholders: [], missing: [] }),
      async send() {
        p.sends++;
        await p.gate;
        if (p.failing) throw new DeliveryError(`${name} answered 500`, false, { status: 500 });
        return { providerId: `${name}-${p.sends}` };
      },
    } satisfies DeliveryChannel,
  };
  return p;
}

const message = (attempts: number) =>
  ({ id: 'm', channel: 'sms', recipient: '+27825550123', attempts }) as unknown as Message;

describe('failover breaker', () => {
  it(`opens after ${BREAKER_FAILURES} failures; after ${BREAKER_OPEN_SECONDS} s one send probes the primary while the others go to the fallback; a failed probe reopens it, a good one closes it`, async () => {
    let now = new Date('2026-11-30T00:00:00Z');
    const primary = provider('primary');
    const fallback = provider('fallback');
    const channel = createFailoverChannel(primary.channel, fallback.channel, () => now);
    primary.failing = true;
    for (let i = 0; i < BREAKER_FAILURES; i++) await assert.rejects(channel.send(message(1)));
    assert.equal(channel.breakers()[0].state, 'open');
    await channel.send(message(1));
    assert.equal(primary.sends, BREAKER_FAILURES, 'skipped while open');

    now = new Date(now.getTime() + (BREAKER_OPEN_SECONDS + 1) * 1000);
    assert.equal(channel.breakers()[0].state, 'half-open');
    let release!: () => void;
    primary.gate = new Promise<void>((r) => (release = r));
    const sends = [1, 2, 3].map(() => channel.send(message(1)).catch((e: Error) => e));
    await new Promise((r) => setImmediate(r));
    assert.equal(primary.sends, BREAKER_FAILURES + 1, 'one probe, not three');
    assert.equal(fallback.sends, 1 + 2, 'the others went to the fallback');
    release();
    await Promise.all(sends);
    assert.equal(channel.breakers()[0].state, 'open', 'the failed probe reopened it');

    now = new Date(now.getTime() + (BREAKER_OPEN_SECONDS + 1) * 1000);
    primary.failing = false;
    primary.gate = undefined;
    assert.equal((await channel.send(message(1))).provider, 'primary');
    assert.equal(channel.breakers()[0].state, 'closed');
  });
});
