/**
 * Issue 8, item 7 ("nothing is ever deleted"): the worker's retention, on PGlite and the PostgreSQL
 * server. Rows are made through the API (and the outbox's own functions for message states a test
 * cannot wait for), the clock is moved, maintenance runs, and we look at what is left.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { hashRefreshToken } from '../src/accounts/tokens.ts';
import { ConfigError, loadConfig } from '../src/config/settings.ts';
import { openDatabase } from '../src/platform/db/client.ts';
import { migrateToLatest } from '../src/platform/db/migrations.ts';
import { claimDue, enqueue, recordOutcome } from '../src/delivery/outbox.ts';
import { applyRetention, BATCH, batchKeys, RETENTION_TABLES, RULES } from '../src/platform/db/retention.ts';
import { codeIn, databaseKinds, person, startStack, type Stack } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';

const START = Date.parse('2031-05-04T10:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 86_400_000;
const pick = ({ refresh_tokens, sessions }: Record<string, number>) => ({ refresh_tokens, sessions });

describe('MESSAGE_RETENTION_DAYS', () => {
  it('defaults to 30 and takes whole days from 1', () => {
    assert.equal(loadConfig({}).MESSAGE_RETENTION_DAYS, 30);
    assert.equal(loadConfig({ MESSAGE_RETENTION_DAYS: '7' }).MESSAGE_RETENTION_DAYS, 7);
    for (const bad of ['0', '-1', '1.5', 'a month']) {
      assert.throws(
        () => loadConfig({ MESSAGE_RETENTION_DAYS: bad }),
        (err) => err instanceof ConfigError && err.message.includes('MESSAGE_RETENTION_DAYS'),
        bad,
      );
    }
  });
});

describe('migration 0005_session_expiry', () => {
  it("gives each existing session its newest refresh token's expiry, or its start when it has none", async () => {
    const handle = await openDatabase({ dataDir: 'memory://' });
    try {
      const db = handle.db;
      await migrateToLatest(db, '0004_delivery_leases');
      const at = (d: number) => new Date(START + d * DAY);
      const { id: user } = await db
        .insertInto('users')
        .values({
          email: 'm@example.test',
          phone: '+27825550123',
          first_name: 'M',
          last_name: 'T',
          created_at: at(0),
          updated_at: at(0),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const session = async (created: number, tokens: number[]) => {
        const { id } = await sql<{
          id: string;
        }>`INSERT INTO sessions (user_id, created_at) VALUES (${user}, ${at(created)}) RETURNING id`
          .execute(db)
          .then((r) => r.rows[0]);
        for (const [i, expires] of tokens.entries()) {
          await db
            .insertInto('refresh_tokens')
            .values({ token_hash: `${id}-${i}`, session_id: id, expires_at: at(expires), created_at: at(created) })
            .execute();
        }
        return id;
      };
      const refreshed = await session(0, [30, 45, 40]);
      const bare = await session(2, []);
      await migrateToLatest(db);
      const expiry = async (id: string) =>
        (await db.selectFrom('sessions').select('expires_at').where('id', '=', id).executeTakeFirstOrThrow())
          .expires_at;
      assert.equal((await expiry(refreshed)).getTime(), at(45).getTime());
      assert.equal((await expiry(bare)).getTime(), at(2).getTime());
    } finally {
      await handle.close();
    }
  });
});

for (const db of await databaseKinds()) {
  describe(`retention (${db})`, () => {
    let stack: Stack;
    let now = START;
    before(async () => {
      stack = await startStack({
        db,
        noWorker: true,
        clock: () => new Date(now),
        smtp: { rejectRecipients: /^rejected\./ },
        env: { OTP_MAX_FAILURES_PER_DAY: '3', LOGIN_MAX_FAILURES: '3' },
      });
    });
    after(() => stack.close());

    const q = () => stack.runtime.services.db;
    const prune = () => stack.runtime.maintenance.runOnce();
    const dryRun = () => applyRetention(q(), stack.runtime.config, new Date(now), { dryRun: true });
    /** Whatever is already removable goes first, so the counts a test reads are its own rows. */
    const clearBacklog = async () => {
      await stack.runtime.worker.runOnce();
      now += 400 * DAY;
      await prune();
    };
    const deliver = () => stack.runtime.worker.runOnce();
    const mailsTo = (email: string) =>
      stack.smtp.messages.filter((m) => m.envelopeTo.includes(email.toLowerCase())).length;
    const mailCode = async (email: string, count = 1) => {
      // Some codes are queued just after the answer (even answers): deliver until the mail is in.
      await waitUntil(async () => (await deliver(), mailsTo(email) >= count), {
        timeoutMs: 15_000,
        what: `mail ${count} to ${email}`,
      });
      return codeIn((await stack.smtp.waitFor(email, { count })).text);
    };
    const register = async (p: ReturnType<typeof person>) => {
      const res = await stack.api('POST', '/api/v1/auth/register', p);
      assert.equal(res.status, 201, res.text);
    };
    const verify = (email: string, otp: string) => stack.api('POST', '/api/v1/auth/verify-account', { email, otp });
    const login = (email: string, password: string) => stack.api('POST', '/api/v1/auth/login', { email, password });
    const userId = async (email: string) =>
      (await q().selectFrom('users').select('id').where('email', '=', email.toLowerCase()).executeTakeFirstOrThrow())
        .id;
    const codeRow = async (email: string) =>
      q()
        .selectFrom('otp_codes')
        .selectAll()
        .where('user_id', '=', await userId(email))
        .executeTakeFirst();

    /** n messages sent now, in one statement. */
    const sentMessages = (n: number) =>
      sql`
        INSERT INTO messages (channel, recipient, purpose, body_text, status, next_attempt_at, created_at, updated_at)
        SELECT 'email', 'bulk' || i || '@example.test', 'email_verification', 'x', 'sent', ${new Date(now)}, ${new Date(now)}, ${new Date(now)}
        FROM generate_series(1, ${n}) AS i`.execute(q());

    /** Registers, verifies and logs in: the account's first token pair. */
    async function signedIn(tag: string) {
      const p = person(tag);
      await register(p);
      assert.equal((await verify(p.email, await mailCode(p.email))).status, 200);
      const res = await login(p.email, p.password);
      assert.equal(res.status, 200, res.text);
      return { person: p, tokens: res.body };
    }

    it('final messages go after MESSAGE_RETENTION_DAYS (30); queued and sending ones stay whatever their age', async () => {
      await clearBacklog();
      const t0 = now;
      const sent = person('ret-sent');
      const failed = { ...person('ret-failed'), email: `rejected.${Date.now()}@example.test` };
      await register(sent);
      await register(failed);
      await deliver();
      // States a test cannot wait for, made by the outbox's own functions: a development capture, a
      // send whose worker died (sending, lease long over) and a message still waiting.
      const message = async (recipient: string) =>
        q()
          .transaction()
          .execute((trx) =>
            enqueue(
              trx,
              {
                userId: randomUUID(),
                channel: 'email',
                recipient,
                purpose: 'email_verification',
                subject: 's',
                text: 't',
                html: null,
                otp: '123456',
                expiresAt: new Date(now + 10 * MINUTE),
              },
              new Date(now),
              stack.runtime.services.seal,
            ),
          );
      await message('captured@example.test');
      const [captured] = await claimDue(q(), 'email', new Date(now), 60, 10);
      await recordOutcome(q(), captured, { status: 'captured', reason: 'development' }, new Date(now), false);
      await message('sending@example.test');
      await claimDue(q(), 'email', new Date(now), 60, 10);
      await message('queued@example.test');

      const statuses = async () =>
        Object.fromEntries(
          (
            await q()
              .selectFrom('messages')
              .select(['recipient', 'status'])
              .where('created_at', '>=', new Date(t0))
              .execute()
          ).map((m) => [m.recipient.split('@')[0].split('.')[0], m.status]),
        );
      const everyState = {
        'ret-sent': 'sent',
        rejected: 'failed',
        captured: 'captured',
        sending: 'sending',
        queued: 'queued',
      };
      assert.deepEqual(await statuses(), everyState);

      now = t0 + 30 * DAY;
      assert.equal((await prune()).messages, 0, 'exactly 30 days final is not more than 30 days');
      now += SECOND;
      assert.equal((await dryRun()).messages, 3, 'the dry run counts sent, failed and captured');
      assert.deepEqual(await statuses(), everyState, 'and removes nothing');
      /** The events of this test's messages that are final (or else still waiting). */
      const eventsOf = (final: boolean) =>
        q()
          .selectFrom('message_events')
          .select('message_events.id')
          .innerJoin('messages', 'messages.id', 'message_events.message_id')
          .where('messages.created_at', '>=', new Date(t0))
          .where('messages.status', final ? 'not in' : 'in', ['queued', 'sending'])
          .execute();
      const finalEvents = (await eventsOf(true)).map((e) => e.id);
      assert.ok(finalEvents.length >= 4, 'the sent and failed messages have their queued and attempt events');
      assert.equal((await eventsOf(false)).length, 2, 'the waiting ones their queued event');
      assert.equal((await prune()).messages, 3);
      assert.deepEqual(await statuses(), { sending: 'sending', queued: 'queued' });
      assert.equal(
        (await q().selectFrom('message_events').select('id').where('id', 'in', finalEvents).execute()).length,
        0,
        "a message's events go with it",
      );
      assert.equal((await eventsOf(false)).length, 2, 'the events of the messages kept stay');

      now += 10 * 365 * DAY;
      assert.equal((await prune()).messages, 0);
      assert.deepEqual(await statuses(), { sending: 'sending', queued: 'queued' }, 'never a message still to be sent');
    });

    it('used and expired refresh tokens, and sessions logged out or expired, go a day later; the token in use stays and still works', async () => {
      await clearBacklog();
      const t0 = now;
      const { tokens: first } = await signedIn('ret-tokens');
      const rotated = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: first.refresh_token });
      assert.equal(rotated.status, 200, rotated.text);
      const inUse = rotated.body.refresh_token;
      const { person: other, tokens: ended } = await signedIn('ret-logout');
      const out = await stack.api(
        'POST',
        '/api/v1/auth/logout',
        { refresh_token: ended.refresh_token },
        ended.access_token,
      );
      assert.equal(out.status, 200, out.text);

      const token = (t: string) =>
        q()
          .selectFrom('refresh_tokens')
          .select(['session_id', 'used_at'])
          .where('token_hash', '=', hashRefreshToken(t))
          .executeTakeFirst();
      const session = async (t: string) =>
        q()
          .selectFrom('sessions')
          .select('id')
          .where('id', '=', (await token(t))!.session_id)
          .executeTakeFirst();
      const endedSession = (await token(ended.refresh_token))!.session_id;

      now = t0 + DAY;
      const atADay = await prune();
      assert.deepEqual([atADay.refresh_tokens, atADay.sessions], [0, 0], 'a day exactly: both stay');
      now += SECOND;
      const dry = await dryRun();
      assert.deepEqual([dry.refresh_tokens, dry.sessions], [1, 1]);
      const removed = await prune();
      assert.deepEqual([removed.refresh_tokens, removed.sessions], [1, 1], 'the used token, the revoked session');
      assert.equal(await token(first.refresh_token), undefined, 'the used token is gone');
      assert.ok(await token(inUse), 'the token in use stays');
      assert.ok(await session(inUse), 'and its session');
      assert.equal(
        await q()
          .selectFrom('refresh_tokens')
          .select('token_hash')
          .where('session_id', '=', endedSession)
          .executeTakeFirst(),
        undefined,
        "the revoked session's token went with it",
      );
      assert.equal(
        await q().selectFrom('sessions').select('id').where('id', '=', endedSession).executeTakeFirst(),
        undefined,
      );
      assert.ok(await userId(other.email), 'the account itself stays');

      const again = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: inUse });
      assert.equal(again.status, 200, 'the token in use still refreshes after the prune');
      const latest = again.body.refresh_token;
      const neverLoggedOut = (await token(latest))!.session_id;

      // Never used again: it expires (REFRESH_TOKEN_TTL_SECONDS, 30 days) and goes a day after.
      now += 30 * DAY;
      assert.ok(await token(latest));
      assert.deepEqual(
        pick(await prune()),
        { refresh_tokens: 1, sessions: 0 },
        'the token used 30 days ago, and nothing else',
      );
      assert.ok(await token(latest), 'expired, but not a day ago yet');
      now += DAY + SECOND;
      assert.deepEqual(
        pick(await prune()),
        { refresh_tokens: 1, sessions: 1 },
        'the expired token, and its session that was never logged out',
      );
      assert.equal(await token(latest), undefined);
      assert.equal(
        await q().selectFrom('sessions').select('id').where('id', '=', neverLoggedOut).executeTakeFirst(),
        undefined,
      );
    });

    it('dead codes go, but never one whose wrong-guess budget (OTP_MAX_FAILURES_PER_DAY, 3) is still within its day', async () => {
      await clearBacklog();
      const t0 = now;
      const verified = person('ret-code-used');
      await register(verified);
      assert.equal((await verify(verified.email, await mailCode(verified.email))).status, 200);
      const guessed = person('ret-code-guessed');
      await register(guessed);
      const first = await mailCode(guessed.email);
      const wrong = first === '000000' ? '111111' : '000000';
      for (let i = 0; i < 3; i += 1) assert.equal((await verify(guessed.email, wrong)).status, 400);
      assert.equal((await codeRow(guessed.email))?.failures, 3);

      now = t0 + 11 * MINUTE; // both codes are dead: one used, one expired (OTP_TTL_SECONDS, 600)
      const live = person('ret-code-live');
      await register(live);
      const liveCode = await mailCode(live.email);
      assert.equal((await dryRun()).otp_codes, 1);
      assert.equal((await prune()).otp_codes, 1, 'only the used code');
      assert.equal(await codeRow(verified.email), undefined, 'the used code is gone');
      assert.ok(await codeRow(guessed.email), 'the budget spent today stays');
      assert.ok(await codeRow(live.email), 'a live code stays');
      assert.equal((await verify(live.email, liveCode)).status, 200, 'and still works');

      // The budget survived the prune: a new code, typed right, is still refused today.
      assert.equal((await stack.api('POST', '/api/v1/auth/resend-verification', { email: guessed.email })).status, 200);
      const second = await mailCode(guessed.email, 2);
      assert.equal((await verify(guessed.email, second)).status, 400, 'the budget is spent until its day is over');

      now = t0 + DAY + SECOND; // the budget's day is over, and its last code long dead
      assert.equal((await prune()).otp_codes, 2, 'the guessed code and the live one, used since');
      assert.equal(await codeRow(guessed.email), undefined);
      assert.equal((await stack.api('POST', '/api/v1/auth/resend-verification', { email: guessed.email })).status, 200);
      assert.equal(
        (await verify(guessed.email, await mailCode(guessed.email, 3))).status,
        200,
        'a new day, a new budget',
      );
    });

    it('login failures go once forgotten (a day without failures, no block); until then they still count', async () => {
      await clearBacklog();
      const t0 = now;
      const { person: p } = await signedIn('ret-login');
      for (let i = 0; i < 2; i += 1) assert.equal((await login(p.email, 'not the password')).status, 401);
      assert.equal((await login(`nobody.${Date.now()}@example.test`, 'not the password')).status, 401);
      const failures = () => q().selectFrom('login_failures').select(['email', 'failures']).execute();
      assert.equal((await failures()).length, 2);

      now = t0 + DAY;
      assert.equal((await prune()).login_failures, 0, 'a day exactly: the throttle still counts them');
      assert.equal((await login(p.email, 'not the password')).status, 401);
      assert.equal(
        (await login(p.email, p.password)).status,
        429,
        'the third failure (LOGIN_MAX_FAILURES) blocks: the first two still counted',
      );

      now += SECOND;
      assert.equal((await dryRun()).login_failures, 1);
      assert.equal((await prune()).login_failures, 1, 'the unknown address, silent for over a day');
      assert.deepEqual(
        (await failures()).map((f) => f.email),
        [p.email.toLowerCase()],
        'the blocked account stays',
      );

      now = t0 + 2 * DAY + SECOND;
      assert.equal((await prune()).login_failures, 1);
      assert.deepEqual(await failures(), []);
      assert.equal((await login(p.email, p.password)).status, 200);
    });

    it(`deletes in batches of ${BATCH} until a short one, counts panic_retention_rows_removed_total{table} and logs each run`, async () => {
      await clearBacklog();
      const total = 2 * BATCH + 500;
      const before = await q()
        .selectFrom('messages')
        .select(sql<number>`count(*)::int`.as('n'))
        .executeTakeFirstOrThrow();
      await sentMessages(total);
      const metric = async () => {
        const text = await stack.runtime.metrics.registry.getSingleMetricAsString('panic_retention_rows_removed_total');
        return Number(text.match(/table="messages"} (\d+)/)?.[1]);
      };
      const counted = await metric();
      const logged = stack.logs.length;

      now += 31 * DAY;
      const removed = await prune();
      assert.equal(removed.messages, total);
      const after = await q()
        .selectFrom('messages')
        .select(sql<number>`count(*)::int`.as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(after.n, before.n);
      assert.equal((await metric()) - counted, total);
      const lines = stack.logs
        .slice(logged)
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg.startsWith('retention'));
      assert.equal(lines.length, 1, 'one line per run');
      assert.equal(lines[0].removed.messages, total);
      assert.deepEqual(Object.keys(lines[0].removed), [...RETENTION_TABLES]);
    });

    it('stopping the worker ends its run after the current batch and waits for it; the rest goes next time', async () => {
      await clearBacklog();
      await sentMessages(3 * BATCH);
      now += 31 * DAY;
      const logged = stack.logs.length;
      stack.runtime.maintenance.start(); // its first run starts at once
      await stack.runtime.maintenance.stop();
      const line = stack.logs
        .slice(logged)
        .map((l) => JSON.parse(l))
        .find((l) => l.msg.startsWith('retention'));
      assert.equal(line?.removed.messages, BATCH, 'one batch, then it stopped');
      assert.equal((await prune()).messages, 2 * BATCH, 'the rest on the next run');
    });

    it('finds each batch through an index, never by reading the whole table', async () => {
      for (const table of RETENTION_TABLES) {
        const plan = await q()
          .transaction()
          .execute(async (trx) => {
            // Tables this small are read whole anyway; forbid that to see whether an index could serve.
            await sql`SET LOCAL enable_seqscan = off`.execute(trx);
            const where = RULES[table].where(new Date(now), stack.runtime.config);
            const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${batchKeys(table, where)}`.execute(trx);
            return rows.map((r) => r['QUERY PLAN']).join('\n');
          });
        assert.match(plan, new RegExp(`Index.*\\b${RULES[table].index}\\b`), `${table}:\n${plan}`);
      }
    });
  });
}
