/**
 * Sign in with a code (issue 21 §1) against a stopwatch: a stranger timing the answers learns no more
 * than one reading them (the attacks themselves are test/attack-code-login.test.ts). In a file of its
 * own, one of the timed files (test/run.ts): its medians are read while nothing else runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { onNetwork } from './support/clients.ts';
import { expectStatus } from './support/api.ts';
import { randomMobile, startStack, type Stack } from './support/stack.ts';
import { keptAliveClient, median } from './support/stopwatch.ts';
import { waitUntil } from './support/wait.ts';
import { account, ghostEmail } from './support/owners.ts';

describe('sign in with a code against a stopwatch (PGlite: its queries run in the process that answers)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      noWorker: true,
      env: {
        OTP_RESEND_COOLDOWN_SECONDS: '0',
        OTP_MAX_SENDS_PER_HOUR: '10000',
        SMS_MAX_PER_ACCOUNT_PER_HOUR: '10000',
      },
    });
  });
  after(() => s.close());

  it('medians of 50 answers to /auth/otp for a known and an unknown address differ by < 1 ms: a verified email, an unverified one, a verified phone', async (t) => {
    const stopwatch = keptAliveClient(s.baseUrl);
    t.after(() => stopwatch.close());
    const flows = [
      {
        name: 'verified email',
        known: { email: (await account(s, { withPassword: false })).email },
        unknown: () => ({ email: ghostEmail() }),
      },
      {
        name: 'unverified email',
        known: { email: (await account(s, { emailVerified: false, withPassword: false })).email },
        unknown: () => ({ email: ghostEmail() }),
      },
      {
        name: 'verified phone',
        known: { phone: (await account(s, { phoneVerified: true, withPassword: false })).phone },
        unknown: () => ({ phone: randomMobile() }),
      },
    ];
    const results: Array<{ name: string; known: number; unknown: number }> = [];
    for (const flow of flows) {
      const took = { known: [] as number[], unknown: [] as number[] };
      for (let i = -2; i < 50; i++) {
        for (const kind of i % 2 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const)) {
          const body = kind === 'known' ? flow.known : flow.unknown();
          const started = performance.now();
          const r = await stopwatch.post('/api/v1/auth/otp', body);
          const ms = performance.now() - started;
          assert.equal(r.status, 200, `${flow.name} ${kind}: ${r.text}`);
          if (i >= 0) took[kind].push(ms);
        }
      }
      results.push({ name: flow.name, known: median(took.known), unknown: median(took.unknown) });
    }
    for (const r of results)
      t.diagnostic(`/auth/otp ${r.name}: median known ${r.known.toFixed(2)} ms, unknown ${r.unknown.toFixed(2)} ms`);
    for (const r of results)
      assert.ok(
        Math.abs(r.known - r.unknown) < 1,
        `${r.name}: median known ${r.known.toFixed(2)} ms vs unknown ${r.unknown.toFixed(2)} ms`,
      );
  });

  it('medians of 50 wrong codes at /auth/otp/verify for an unknown, an unverified and a verified address (its sign-in code live) differ by < 0.5 ms; and of 50 wrong long codes', async (t) => {
    const verified: string[] = [];
    for (let i = 0; i < 52; i++) verified.push((await account(s, { withPassword: false })).email);
    const asker = onNetwork(s.baseUrl, 150);
    for (const email of verified) expectStatus(await asker.api('POST', '/api/v1/auth/otp', { email }), 200);
    const db = s.runtime.services.db;
    // The answer does not wait for the code to be issued.
    await waitUntil(
      async () => {
        const live = await db
          .selectFrom('otp_codes')
          .innerJoin('users', 'users.id', 'otp_codes.user_id')
          .select('otp_codes.id')
          .where('users.email', 'in', verified)
          .where('otp_codes.purpose', '=', 'login')
          .execute();
        return live.length === verified.length;
      },
      { what: 'a sign-in code for each verified address' },
    );
    const pending = (await account(s, { emailVerified: false, withPassword: false })).email;
    const stopwatch = keptAliveClient(s.baseUrl);
    t.after(() => stopwatch.close());
    const kinds = ['unknown', 'pending', 'verified'] as const;
    const time = async (otpOf: (i: number) => string) => {
      const took: Record<(typeof kinds)[number], number[]> = { unknown: [], pending: [], verified: [] };
      for (let i = -2; i < 50; i++) {
        for (let k = 0; k < 3; k++) {
          const kind = kinds[(k + i + 3) % 3];
          const email = kind === 'unknown' ? ghostEmail() : kind === 'pending' ? pending : verified[i + 2];
          const started = performance.now();
          const r = await stopwatch.post('/api/v1/auth/otp/verify', { email, otp: otpOf(i) });
          const ms = performance.now() - started;
          assert.equal(r.status, 400, `${kind}: ${r.text}`);
          if (i >= 0) took[kind].push(ms);
        }
      }
      return Object.fromEntries(kinds.map((k) => [k, median(took[k])])) as Record<(typeof kinds)[number], number>;
    };
    const short = await time(() => '000000');
    const long = await time((i) => `K7QM-3XJD-9TWP-R2H${'0123456789ABCDEFGHJKMNPQRSTVWXYZ'[(i + 2) % 32]}`);
    for (const [name, m] of [
      ['short', short],
      ['long', long],
    ] as const)
      t.diagnostic(
        `/auth/otp/verify ${name}: median unknown ${m.unknown.toFixed(2)} ms, unverified ${m.pending.toFixed(2)} ms, verified ${m.verified.toFixed(2)} ms`,
      );
    // each verified address's live code took its one wrong try
    const tried = await db
      .selectFrom('otp_codes')
      .innerJoin('users', 'users.id', 'otp_codes.user_id')
      .select('otp_codes.attempts')
      .where('users.email', 'in', verified.slice(2))
      .where('otp_codes.purpose', '=', 'login')
      .execute();
    assert.deepEqual(
      tried.map((r) => r.attempts),
      tried.map(() => 1),
    );
    for (const [name, m] of [
      ['short', short],
      ['long', long],
    ] as const) {
      assert.ok(
        Math.abs(m.pending - m.unknown) < 0.5,
        `${name}: unverified ${m.pending} ms vs unknown ${m.unknown} ms`,
      );
      assert.ok(
        Math.abs(m.verified - m.unknown) < 0.5,
        `${name}: verified ${m.verified} ms vs unknown ${m.unknown} ms`,
      );
    }
  });
});
