/**
 * Every step of a message kept (queued, each failed attempt, sent, expired, superseded), what a
 * provider's refusal means in plain words, and no stale code sent: through the real service, a real
 * SMTP server that is down and comes up, and the Twilio-speaking fixture.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './support/net.ts';
import { startSmtpServer } from './support/smtp.ts';
import { expectStatus } from './support/api.ts';
import { databaseKinds, person, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { messagesTo } from './support/outbox-rows.ts';
import { waitUntil } from './support/wait.ts';
import { runCli } from './support/cli.ts';

const ADMIN = 'admin-token-for-tests-0123456789';
const MINUTE = 60_000;

/** The delivery log of one recipient, as the admin API answers it. */
async function logOf(stack: Stack, recipient: string) {
  const res = await stack.api('GET', `/api/v1/admin/messages?to=${encodeURIComponent(recipient)}`, undefined, ADMIN);
  assert.equal(res.status, 200, res.text);
  return res.body.messages;
}

const kinds = (events: Array<{ kind: string }>) => events.map((e) => e.kind);

/** Waits for the message to `recipient` (or the one with id `id`) to reach one of `statuses`. */
const ended = (stack: Stack, recipient: string, statuses: string[], id?: string) =>
  waitUntil(
    async () => {
      const rows = await messagesTo(stack, recipient);
      const row = id ? rows.find((r) => r.id === id) : rows[0];
      return row && statuses.includes(row.status) ? row : undefined;
    },
    { timeoutMs: 20_000, what: `message ${id ?? ''} to ${recipient} in ${statuses.join('/')}` },
  );

for (const db of await databaseKinds()) {
  describe(`message events and stale codes (${db})`, () => {
    it('a code that expires while SMTP is down is never sent and ends expired, with every attempt kept', async () => {
      const port = await freePort();
      let now = Date.now();
      const stack = await startStack({
        db,
        clock: () => new Date(now),
        env: { SMTP_PORT: String(port), ADMIN_TOKEN: ADMIN },
      });
      const late = { close: async () => {} };
      try {
        const p = person('expire');
        assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
        // The clock stands still, so the retry waits for it: exactly one failed attempt.
        await waitUntil(
          async () =>
            ((await messagesTo(stack, p.email))[0]?.attempts ?? 0) >= 1 &&
            (await messagesTo(stack, p.email))[0].status === 'queued',
          {
            what: 'a failed first attempt',
          },
        );
        const smtp = await startSmtpServer({ port });
        late.close = smtp.close;
        now += 10 * MINUTE + 1000; // OTP_TTL_SECONDS (600) has passed: the retry is due and its code dead
        const row = await ended(stack, p.email, ['expired', 'sent', 'failed']);
        assert.equal(row.status, 'expired');
        assert.equal(row.otp, null, 'a final message keeps no code');
        assert.equal(smtp.dataReceived, 0, 'the dead code never reached the mail server');

        const [logged] = await logOf(stack, p.email);
        assert.equal(logged.status, 'expired');
        assert.deepEqual(kinds(logged.events), ['queued', 'attempt_failed', 'expired']);
        const failed = logged.events[1];
        assert.equal(failed.provider, 'smtp');
        assert.equal(failed.provider_code, 'ESOCKET');
        assert.match(failed.error ?? '', /ECONNREFUSED/);
        assert.equal(typeof failed.duration_ms, 'number');
        assert.match(failed.diagnosis?.cause ?? '', /SMTP server could not be reached/);
        assert.match(failed.diagnosis?.hint ?? '', /delayed/);
        assert.match(failed.diagnosis?.fix ?? '', /SMTP_SERVER and SMTP_PORT/);
        assert.ok(Date.parse(logged.events[2].at) > Date.parse(logged.events[0].at), 'oldest first');

        const one = await stack.api('GET', `/api/v1/admin/messages/${logged.id}`, undefined, ADMIN);
        assert.equal(one.status, 200, one.text);
        assert.deepEqual(one.body.message, logged);
        assert.equal(
          (await stack.api('GET', `/api/v1/admin/messages/${crypto.randomUUID()}`, undefined, ADMIN)).status,
          404,
        );
        assert.equal((await stack.api('GET', `/api/v1/admin/messages/${logged.id}`)).status, 401);
      } finally {
        await stack.close();
        await late.close();
      }
    });

    it('a resend while the first message waits: the first ends superseded and only the new code arrives', async () => {
      const port = await freePort();
      let now = Date.now();
      const stack = await startStack({
        db,
        clock: () => new Date(now),
        env: { SMTP_PORT: String(port), ADMIN_TOKEN: ADMIN },
      });
      const late = { close: async () => {} };
      try {
        const p = person('supersede');
        assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
        // The clock stands still, so the first message's retry waits for it, with SMTP up by then.
        await waitUntil(
          async () =>
            ((await messagesTo(stack, p.email))[0]?.attempts ?? 0) >= 1 &&
            (await messagesTo(stack, p.email))[0].status === 'queued',
          {
            what: 'a failed first attempt',
          },
        );
        const [{ id: firstId }] = await messagesTo(stack, p.email);
        const smtp = await startSmtpServer({ port });
        late.close = smtp.close;
        assert.equal((await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email })).status, 200);
        // The resend's code may be queued just after its answer (every answer takes the same time).
        const { id: newerId } = await waitUntil(
          async () => (await messagesTo(stack, p.email)).find((m) => m.id !== firstId),
          { what: 'the resent message' },
        );
        now += MINUTE; // the first message's retry is due, its code not expired: only replaced
        const mail = await smtp.waitFor(p.email, { timeoutMs: 20_000 });
        assert.equal((await ended(stack, p.email, ['superseded', 'sent', 'failed'], firstId)).status, 'superseded');
        assert.equal((await ended(stack, p.email, ['sent', 'failed'], newerId)).status, 'sent');
        assert.equal(
          smtp.messages.filter((m) => m.envelopeTo.includes(p.email)).length,
          1,
          'one mail: the replaced code was not sent',
        );
        const otp = mail.text.match(/\b(\d{6})\b/)![1];
        assert.equal(
          (await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp })).status,
          200,
          'the mail holds the live code',
        );

        const log = await logOf(stack, p.email);
        const [first, newer] = [firstId, newerId].map((id) => log.find((m) => m.id === id)!);
        assert.equal(first.events[0].kind, 'queued');
        assert.equal(first.events.at(-1)!.kind, 'superseded');
        assert.ok(
          first.events.slice(1, -1).every((e) => e.kind === 'attempt_failed'),
          JSON.stringify(first.events),
        );
        assert.equal(newer.events[0].kind, 'queued');
        assert.deepEqual(
          newer.events.slice(-2).map((e) => e.kind),
          ['sent', 'verified'],
          'sent, then its code used: the first message carried none of it',
        );
        assert.ok(newer.events.at(-2)!.provider_id, 'the sent event keeps the provider id');
        assert.ok(!first.events.some((e) => e.kind === 'verified'));
      } finally {
        await stack.close();
        await late.close();
      }
    });

    describe('refusals in plain words', () => {
      let stack: Stack;
      before(async () => {
        stack = await startStack({ db, smtp: { rejectRecipients: /^bounce/ }, env: { ADMIN_TOKEN: ADMIN } });
      });
      after(() => stack.close());

      it("a permanent Twilio 21211 ends failed, the event keeping Twilio's error as it came and its meaning", async () => {
        const p = person('tw21211');
        await stack.api('POST', '/api/v1/auth/register', p);
        const otp = await stack.emailCode(p.email);
        await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
        const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
        const words = `The 'To' number ${p.phone} is not a valid phone number (fixture).`;
        stack.sms.failWith = { status: 400, code: 21211, message: words };
        try {
          assert.equal(
            (await stack.api('POST', '/api/v1/users/verify-phone', {}, expectStatus(login, 200).access_token)).status,
            200,
          );
          assert.equal((await ended(stack, p.phone, ['sent', 'failed'])).status, 'failed');
        } finally {
          stack.sms.failWith = undefined;
        }
        const [logged] = await logOf(stack, p.phone);
        assert.deepEqual(kinds(logged.events), ['queued', 'attempt_failed']);
        const failed = logged.events[1];
        assert.equal(failed.provider, 'twilio');
        assert.equal(failed.provider_status, 400);
        assert.equal(failed.provider_code, '21211');
        // Twilio's answer whole, as the fixture wrote it (Twilio's error JSON)
        assert.deepEqual(failed.provider_error, {
          status: 400,
          body: { code: 21211, message: words, more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 },
        });
        assert.equal(failed.diagnosis?.cause, "The 'To' number is not a valid phone number.");
        assert.match(failed.diagnosis?.hint ?? '', /does not look valid/);
      });

      it("a provider's long error is kept within 1000 characters of JSON, its code and status whole", async () => {
        const { person: p, tokens } = await verifiedLogin(stack, 'tw-long');
        stack.sms.failWith = { status: 400, code: 30001, message: `Queue overflow: ${'x'.repeat(5000)}` };
        try {
          const asked = await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
          assert.equal(asked.status, 200, asked.text);
          assert.equal((await ended(stack, p.phone, ['sent', 'failed'])).status, 'failed');
        } finally {
          stack.sms.failWith = undefined;
        }
        const [logged] = await logOf(stack, p.phone);
        const kept = logged.events.find((e) => e.kind === 'attempt_failed')?.provider_error as {
          status: number;
          body: { code: number; message: string; more_info: string };
        };
        assert.ok(JSON.stringify(kept).length <= 1000, JSON.stringify(kept));
        assert.equal(kept.status, 400);
        assert.equal(kept.body.code, 30001);
        assert.equal(kept.body.more_info, 'https://www.twilio.com/docs/errors/30001');
        assert.match(kept.body.message, /^Queue overflow: x+…$/);
      });

      it('an SMTP 550 ends failed with its cause, and `panic-api messages` shows the events', async () => {
        const p = { ...person(), email: `bounce.${Date.now()}@example.test` };
        await stack.api('POST', '/api/v1/auth/register', p);
        assert.equal((await ended(stack, p.email, ['sent', 'failed'])).status, 'failed');
        const [logged] = await logOf(stack, p.email);
        assert.deepEqual(kinds(logged.events), ['queued', 'attempt_failed']);
        const failed = logged.events[1];
        assert.equal(failed.provider_status, 550);
        // the server's reply code and text, with the command it answered and nodemailer's code
        assert.deepEqual(failed.provider_error, {
          code: 'EENVELOPE',
          command: 'RCPT TO',
          responseCode: 550,
          response: `550 Mailbox unavailable: ${p.email}`,
        });
        assert.match(failed.diagnosis?.cause ?? '', /mailbox does not exist/);

        const cli = await runCli(['messages', '--to', p.email], { API_BASE_URL: stack.baseUrl, ADMIN_TOKEN: ADMIN });
        assert.equal(cli.code, 0, cli.stderr);
        const lines = cli.stdout.split('\n');
        const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
        assert.ok(at(/FAILED after 1 attempt/) < at(/^ {4}\S+ {2}queued$/), cli.stdout);
        assert.ok(
          at(/^ {4}\S+ {2}queued$/) <
            at(/^ {4}\S+ {2}attempt failed → failed \(smtp, 550 EENVELOPE, \d+ ms\): SMTP EENVELOPE 550/),
          cli.stdout,
        );
        const answer = lines.find((l) => l.startsWith("      provider's answer: "));
        assert.deepEqual(
          JSON.parse(answer?.slice("      provider's answer: ".length) ?? 'null'),
          failed.provider_error,
        );
        assert.match(cli.stdout, /^ {6}cause: The mailbox does not exist/m);
        assert.match(cli.stdout, /^ {6}fix: Check the address for typos/m);
      });
    });
  });
}
