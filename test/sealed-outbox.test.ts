/**
 * "A database dump reveals no code": a message's code is sealed in its row while it waits, the worker
 * still sends the right code, rows written before sealing (plain text) still deliver, a sealed row
 * moved to another recipient or read under another OTP_SECRET never goes out, and in development the
 * dev inbox shows the code that the row keeps sealed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createMessageSeal, UnsealError } from '../src/delivery/sealed-body.ts';
import { inbox } from './support/dev-inbox.ts';
import { holdingSmtp } from './support/smtp.ts';
import { waitUntil } from './support/wait.ts';
import { codeIn, databaseKinds, randomPerson, startStack, type Stack } from './support/stack.ts';

/** Every column of the recipient's rows, exactly as a dump of the messages table would show them. */
async function dumpRows(stack: Stack, recipient: string): Promise<Array<Record<string, unknown>>> {
  const { rows } = await sql<Record<string, unknown>>`SELECT * FROM messages WHERE recipient = ${recipient}`.execute(
    stack.runtime.handle.db,
  );
  return rows;
}

const finalRow = (stack: Stack, recipient: string) =>
  waitUntil(
    async () => {
      const [row] = await dumpRows(stack, recipient);
      return row && !['queued', 'sending'].includes(row.status as string) ? row : undefined;
    },
    { what: `a final state for the message to ${recipient}` },
  );

describe('message seal', () => {
  const seal = createMessageSeal('a-test-otp-secret-of-at-least-32-characters');
  const row = {
    channel: 'sms' as const,
    recipient: '+27825550123',
    purpose: 'phone_verification' as const,
    body_text: 'Your code is 482913.',
    body_html: null,
    otp: '482913',
  };

  it('seals each code-bearing column under a versioned prefix, and opens it again', () => {
    const sealed = seal.seal(row);
    assert.match(sealed.body_text, /^sealed:v1:/);
    assert.match(sealed.otp!, /^sealed:v1:/);
    assert.equal(sealed.body_html, null);
    assert.ok(!JSON.stringify(sealed).includes('482913'));
    assert.notEqual(seal.seal(row).otp, sealed.otp, 'a fresh IV each time: equal codes do not look equal');
    assert.deepEqual(seal.open(sealed), row);
  });

  it('reads a plain row written before sealing as it is', () => {
    assert.deepEqual(seal.open(row), row);
  });

  it('refuses another secret, another recipient, another column, and an altered value', () => {
    const sealed = seal.seal(row);
    assert.throws(() => createMessageSeal('another-otp-secret-of-at-least-32-characters').open(sealed), UnsealError);
    assert.throws(() => seal.open({ ...sealed, recipient: '+27825559999' }), UnsealError);
    assert.throws(() => seal.open({ ...sealed, body_text: sealed.otp! }), UnsealError);
    // A character of the IV changed (the last one may carry only padding bits, which decode the same).
    const at = 'sealed:v1:'.length;
    const flipped = sealed.otp!.slice(0, at) + (sealed.otp![at] === 'A' ? 'B' : 'A') + sealed.otp!.slice(at + 1);
    assert.throws(() => seal.open({ ...sealed, otp: flipped }), UnsealError);
  });
});

for (const db of await databaseKinds()) {
  describe(`the outbox at rest (${db})`, () => {
    const smtpHold = holdingSmtp();
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db, smtp: { beforeAccept: smtpHold.beforeAccept } });
    });
    after(async () => {
      smtpHold.release();
      await stack?.close();
    });

    it('a message waiting on the mail server shows no code in its row; the mail carries the right one', async () => {
      const p = randomPerson('sealed');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
      let waiting: Record<string, unknown>;
      try {
        // The first mail opens the connection (STARTTLS, AUTH): slow on a loaded machine.
        await waitUntil(() => stack.smtp.dataReceived >= 1, {
          timeoutMs: 20_000,
          what: 'the email held by the mail server',
        });
        [waiting] = await dumpRows(stack, p.email);
      } finally {
        smtpHold.release(); // the other tests send through the same server
      }
      assert.equal(waiting.status, 'sending');
      assert.match(waiting.otp as string, /^sealed:v1:/);
      assert.match(waiting.body_text as string, /^sealed:v1:/);
      assert.match(waiting.body_html as string, /^sealed:v1:/);

      const code = codeIn((await stack.smtp.waitFor(p.email, { timeoutMs: 20_000 })).text);
      assert.ok(!JSON.stringify(waiting).includes(code), 'the waiting row held the code');
      const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code });
      assert.equal(verified.status, 200, verified.text);
    });

    it('a plain row written before sealing is still delivered as written', async () => {
      const to = randomPerson('legacy').email;
      await sql`INSERT INTO messages (channel, recipient, purpose, subject, body_text, body_html, otp, next_attempt_at, created_at, updated_at)
                VALUES ('email', ${to}, 'email_verification', 'Your code', 'Your code is 654321.', '<p>654321</p>', '654321', now(), now(), now())`.execute(
        stack.runtime.handle.db,
      );
      const mail = await stack.smtp.waitFor(to);
      assert.equal(codeIn(mail.text), '654321');
      assert.equal((await finalRow(stack, to)).status, 'sent');
    });

    it('a sealed row moved to another recipient is never sent: it fails with the reason', async () => {
      const victim = randomPerson('victim');
      const thief = randomPerson('thief').email;
      const sealed = stack.runtime.services.seal.seal({
        channel: 'email',
        recipient: victim.email,
        purpose: 'email_verification',
        body_text: 'Your code is 111222.',
        body_html: null,
        otp: '111222',
      });
      await sql`INSERT INTO messages (channel, recipient, purpose, body_text, otp, next_attempt_at, created_at, updated_at)
                VALUES ('email', ${thief}, 'email_verification', ${sealed.body_text}, ${sealed.otp}, now(), now(), now())`.execute(
        stack.runtime.handle.db,
      );
      const row = await finalRow(stack, thief);
      assert.equal(row.status, 'failed');
      assert.match(row.last_error as string, /sealed under another OTP_SECRET, or altered/);
      assert.equal(row.otp, null, 'redacted like any final message');
      assert.ok(!stack.smtp.messages.some((m) => m.envelopeTo.includes(thief)), 'nothing went to the new recipient');
    });
  });

  describe(`development: the dev inbox opens what the row keeps sealed (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db, env: { APP_ENV: 'development', SMTP_SERVER: '', SMS_PROVIDER: '' } });
    });
    after(() => stack?.close());

    it('the captured message shows its code in the dev inbox, and its row shows none', async () => {
      const p = randomPerson('dev-sealed');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
      const row = await finalRow(stack, p.email);
      assert.equal(row.status, 'captured');
      const [shown] = await inbox(stack, p.email);
      const otp = shown.otp ?? '';
      assert.match(otp, /^\d{6}$/);
      assert.ok(shown.body_text.includes(otp), 'the body is shown opened');
      assert.ok(!JSON.stringify(row).includes(otp), 'the row holds the code in the clear');
      const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
      assert.equal(verified.status, 200, verified.text);
    });
  });
}
