/**
 * Issue 18 (1), "the SMS brake is no kill switch", written as the attack: cheap accounts from many
 * networks fill SMS_MAX_PER_HOUR with verify-phone, and we count what reached the Twilio fixture, the
 * answers by status, and whether people outside the attack still get their codes: a new person on
 * another network with a number in another range, and an account's unlock code to its verified phone.
 *
 * In memory only: in Redis the brake's counters live an hour (and a range's two days) and would brake
 * every later run. The accounts are made straight in the database (verified email, a password) and
 * only logged in through the API: the registration flow is tested elsewhere, and hashing a password
 * per account is most of a run's time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { BRAKE_PARTS, createMetrics } from '../src/platform/metrics.ts';
import { limiterFactory } from '../src/platform/rate-limit.ts';
import { createSmsBudget, type SmsRequest } from '../src/otp/sms-budget.ts';
import { why } from '../src/accounts/why.ts';
import { AppError } from '../src/shared/errors.ts';
import { databaseKinds, startStack, type Stack } from './support/stack.ts';
import { runBrakeAttack, statuses } from './support/sms-brake-attack.ts';

const ADMIN_TOKEN = randomBytes(24).toString('hex');

/** A budget on its own, its refusals' log lines and metrics kept. */
function budget(
  settings: Partial<Record<'SMS_MAX_PER_HOUR' | 'SMS_PROVEN_MAX_PER_HOUR' | 'SMS_BRAKE_NETWORK_SHARE', string>>,
) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const config = loadConfig({
    APP_ENV: 'test',
    DATA_DIR: 'memory://',
    SMS_MAX_PER_ACCOUNT_PER_HOUR: '100',
    ...settings,
  });
  const metrics = createMetrics(async () => 0);
  return { budget: createSmsBudget(config, limiterFactory(), createLogger(config, sink), metrics), lines, metrics };
}

/** An SMS of a fresh account (so per-account budgets never refuse) to phone, from network. */
const newNumber = (phone: string, network: string): SmsRequest => ({
  userId: randomUUID(),
  phone,
  account: { phone: '+27825550100', verified: false },
  requester: { network },
});
const proven = (network: string | 'admitted'): SmsRequest => {
  const phone = `+27825${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  return {
    userId: randomUUID(),
    phone,
    account: { phone, verified: true },
    requester: network === 'admitted' ? 'admitted' : { network },
  };
};
/** A brake's refusal: 503 with a Retry-After (which part refused is counted in the metric, checked after). */
const braked = (err: unknown) => {
  assert.ok(
    err instanceof AppError && err.code === 'service_unavailable' && (err.retryAfterSeconds ?? 0) >= 1,
    String(err),
  );
  return true;
};
/** The refusals of the SMS brake's parts (the WhatsApp and voice brakes count under the same name). */
const refusals = async (metrics: ReturnType<typeof createMetrics>) =>
  Object.fromEntries(
    (await metrics.smsBrakeRefusals.get()).values
      .filter((v) => (BRAKE_PARTS as readonly unknown[]).includes(v.labels.part))
      .map((v) => [v.labels.part, v.value]),
  );

describe('the SMS brake, partitioned (one budget, in memory)', () => {
  it('past SMS_MAX_PER_HOUR a new number gets a code while its range is on probation (fewer than 10 codes) or has 20 % of its codes verified; verifications of proven numbers do not count', async () => {
    const { budget: b, metrics, lines } = budget({ SMS_MAX_PER_HOUR: '1', SMS_BRAKE_NETWORK_SHARE: '1000' });
    await b.take(newNumber('+27830000001', 'n/24')); // fills the ceiling, in another range
    const inRange = (i: number) => newNumber(`+2784000${String(i).padStart(4, '0')}`, 'n/24');
    for (let i = 0; i < 10; i++) await b.take(inRange(i)); // probation: 0 … 9 sent before each
    await assert.rejects(b.take(inRange(10)), braked, '10 sent, none verified');
    await b.verified({
      ...proven('admitted'),
      phone: '+27840009999',
      account: { phone: '+27840009999', verified: true },
    });
    await assert.rejects(b.check(inRange(10)), braked, 'a proven number verified does not count');
    await b.verified(inRange(0));
    await b.verified(inRange(1));
    await b.take(inRange(10)); // 2 of 10 verified: 20 %
    await assert.rejects(b.take(inRange(11)), braked, '2 of 11');
    assert.deepEqual(await refusals(metrics), { proven_network: 0, new_network: 0, new_range: 3 });
    assert.ok(
      lines.some(
        (l) =>
          JSON.parse(l).level >= 50 &&
          l.includes('SMS brake engaged') &&
          l.includes('"part":"new_range"') &&
          l.includes('"range":"+27 8400"'),
      ),
    );
  });

  it('past a ceiling each network sends SMS_BRAKE_NETWORK_SHARE more an hour, of proven and of new SMS apart; a proven SMS admitted by admitUnlock passes; new numbers never spend the proven ceiling', async () => {
    const { budget: b, metrics } = budget({
      SMS_MAX_PER_HOUR: '2',
      SMS_PROVEN_MAX_PER_HOUR: '2',
      SMS_BRAKE_NETWORK_SHARE: '2',
    });
    const spread = (i: number) => `+278${5 + (i % 3)}${String(i).padStart(7, '0')}`; // ranges on probation
    for (let i = 0; i < 4; i++) await b.take(newNumber(spread(i), 'a')); // 2 under the ceiling, 2 past it
    await assert.rejects(b.take(newNumber(spread(4), 'a')), braked);
    await b.take(newNumber(spread(5), 'b'));
    // the proven ceiling is untouched by all that
    await b.take(proven('a'));
    await b.take(proven('a'));
    await b.take(proven('a'));
    await b.take(proven('a'));
    await assert.rejects(b.take(proven('a')), braked);
    await b.take(proven('admitted')); // its network was charged by admitUnlock
    await b.admitUnlock({ network: 'c' });
    await b.admitUnlock({ network: 'c' });
    await assert.rejects(b.admitUnlock({ network: 'c' }), braked, 'known or unknown identifier alike');
    assert.deepEqual(await refusals(metrics), { proven_network: 2, new_network: 1, new_range: 0 });
  });

  it('SMS_BRAKE_NETWORK_SHARE=0: past the ceiling nothing passes (the one brake, should an operator want it back)', async () => {
    const { budget: b } = budget({ SMS_MAX_PER_HOUR: '1', SMS_BRAKE_NETWORK_SHARE: '0' });
    await b.take(newNumber('+27850000001', 'a'));
    await assert.rejects(b.check(newNumber('+27860000001', 'b')), braked);
    await assert.rejects(b.take(newNumber('+27860000001', 'b')), braked);
  });
});

/** A sample's value in a Prometheus text exposition (0 when the series has no sample yet). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
const refused = (part: string) => `panic_sms_brake_refusals_total{part="${part}"}`;

for (const db of await databaseKinds()) {
  describe(`SMS brake attack: SMS_MAX_PER_HOUR=40, SMS_BRAKE_NETWORK_SHARE=3, 28 accounts from 16 networks (${db})`, () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ db, env: { SMS_MAX_PER_HOUR: '40', SMS_BRAKE_NETWORK_SHARE: '3', ADMIN_TOKEN } });
    });
    after(() => s?.close());

    it('the attacker gets 40 + 3 × 16 SMS, no more; a new person elsewhere gets their code, and unlock and every code to a verified phone still go out', async () => {
      const scrape = async () => (await s.request('GET', '/metrics', undefined, ADMIN_TOKEN)).text;
      const before = await scrape();
      const ctx = s.runtime.services;
      const r = await runBrakeAttack(
        { baseUrl: s.baseUrl, db: ctx.db, passwords: ctx.passwords, sms: s.sms },
        { concentrated: 12, networks: 16 },
      );
      const report = JSON.stringify(r);

      // 12 accounts × 4 numbers in +27 8212/8213: the ceiling, then both ranges have 0 % verified.
      assert.deepEqual(
        r.concentrated.answers,
        { 200: 40, 503: 8 },
        `concentrated: ${statuses(r.concentrated.answers)}`,
      );
      assert.equal(r.concentrated.sms, 40, report);
      // 16 accounts × 4 numbers each in a range of its own, one account per network: 3 per network past the ceiling.
      assert.deepEqual(r.spread.answers, { 200: 48, 503: 16 }, `spread: ${statuses(r.spread.answers)}`);
      assert.equal(r.spread.sms, 48, report);

      assert.equal(r.newPerson.status, 200, `a new person on another network, +27 72…: ${report}`);
      assert.ok(r.newPerson.sms, 'their SMS arrived');
      assert.equal(r.unlock.status, 200, report);
      assert.ok(r.unlock.sms, 'the unlock SMS to the verified phone (in an attacked range) arrived');
      assert.equal(r.provenResend.status, 200, report);
      assert.ok(
        r.provenResend.sms,
        "a code to the account's verified phone, asked from an attacker's network, arrived",
      );

      const now = await scrape();
      assert.equal(sample(now, refused('new_range')) - sample(before, refused('new_range')), 8);
      assert.equal(sample(now, refused('new_network')) - sample(before, refused('new_network')), 16);
      assert.equal(sample(now, refused('proven_network')) - sample(before, refused('proven_network')), 0);
      const braked = s.logs
        .filter((l) => l.includes('SMS brake engaged') && JSON.parse(l).level >= 50)
        .map((l) => JSON.parse(l).part);
      assert.deepEqual(
        [...new Set(braked)].sort(),
        ['new_network', 'new_range'],
        'each refusal logged at error level, naming its part',
      );
    });

    it('why, for an account in an attacked range, names the ceiling and the range', async () => {
      const phone = '+27821288888'; // in an attacked range, no attacker's number
      const now = new Date();
      await s.runtime.services.db
        .insertInto('users')
        .values({
          email: `why-brake-${randomBytes(4).toString('hex')}@example.test`,
          phone,
          first_name: 'T',
          last_name: 'M',
          password_hash: null,
          email_verified_at: now,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const report = await why(s.runtime.services, phone);
      assert.deepEqual(
        report.blocking.map((b) => b.setting).sort(),
        ['SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT', 'SMS_MAX_PER_HOUR'],
        JSON.stringify(report.blocking),
      );
      assert.match(
        report.blocking.find((b) => b.setting === 'SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT')!.limit,
        /\+27 8212: 0 of \d+ codes verified/,
      );
    });
  });
}
