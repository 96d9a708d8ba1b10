/**
 * `panic-api why`, end to end as support uses it: a real server, real providers, the real CLI, and
 * the common reasons a person writes "I am not receiving my code".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectStatus } from './support/api.ts';
import { person, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { runCli } from './support/cli.ts';
import { messageReaching } from './support/outbox-rows.ts';
import { acceptedSms, postSigned, postTwilioReceipt, signAsTwilio, TWILIO_STATUS_PATH } from './support/receipts.ts';

const ADMIN_TOKEN = 'why-admin-token-0123456789abcdef0123';
const EMAIL_SECRET = 'why-email-secret-0123456789abcdef';
const PUBLIC_URL = 'https://panic.example.test';

describe('panic-api why', () => {
  let stack: Stack;
  let idle: Stack;
  before(async () => {
    stack = await startStack({
      env: { ADMIN_TOKEN, EMAIL_WEBHOOK_SECRET: EMAIL_SECRET, PUBLIC_URL, OTP_RESEND_COOLDOWN_SECONDS: '60' },
    });
    // a server whose worker never runs: codes stay queued
    idle = await startStack({ noWorker: true, env: { ADMIN_TOKEN, OTP_MAX_SENDS_PER_HOUR: '2' } });
  });
  after(() => Promise.all([stack?.close(), idle?.close()]));

  const why = (s: Stack, to: string, json = false) =>
    runCli(['why', to, ...(json ? ['--json'] : [])], { ADMIN_TOKEN, API_BASE_URL: s.baseUrl });

  const sentRow = (recipient: string) => messageReaching(stack, recipient);

  it('an address nobody registered: no account, so no code; check the spelling', async () => {
    const run = await why(stack, 'Nobody.Here@Example.test');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Why codes to nobody\.here@example\.test \(email\) may not arrive$/m);
    assert.match(run.stdout, /^ {2}Cause +No account has nobody\.here@example\.test, so no code was sent/m);
    assert.match(run.stdout, /^ {2}Fix +Check the spelling with the person/m);
    assert.match(run.stdout, /^ {2}Account +none with this address$/m);
    assert.match(run.stdout, /^No recent messages\.$/m);
  });

  it('a code asked for again within the cooldown: 429 to the asker alone; the message already sent is the cause, and nothing blocks the destination itself', async () => {
    const p = person('why-cooldown');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    await sentRow(p.email);
    const again = await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email });
    assert.equal(again.status, 429);
    const run = await why(stack, p.email);
    assert.match(
      run.stdout,
      /^ {2}Cause +The newest code was accepted by the provider at .*; no receipt has come back\.$/m,
    );
    assert.doesNotMatch(run.stdout, /Blocking/);
    assert.match(run.stdout, /^ {2}Account +[0-9a-f-]{36}: email .* NOT verified, phone/m);
    assert.match(run.stdout, /^ {2}\S+ {2}email .*email_verification {2}SENT after 1 attempt\(s\)/m);
  });

  it('a hard bounce: the suppression, since when and why, and how to lift it; the person is told to check the address', async () => {
    const p = person('why-bounce');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const row = await sentRow(p.email);
    const body = JSON.stringify({ message_id: row.id, event: 'bounced', reason: '550 5.1.1 user unknown' });
    assert.equal((await postSigned(stack, '/api/v1/webhooks/email/events', body, EMAIL_SECRET)).status, 200);
    const run = await why(stack, p.email);
    assert.match(
      run.stdout,
      /^ {2}Cause +.* is on the suppression list since .* after a bounce: bounced: 550 5\.1\.1 user unknown/m,
    );
    assert.match(
      run.stdout,
      /^ {2}Fix +Once the person has fixed their mailbox, take it off the list\. With the admin token: DELETE \/api\/v1\/admin\/suppressions\//m,
    );
    assert.match(
      run.stdout,
      /^ {2}Person +Your mail server refused the message\. Check the address, or use another one\.$/m,
    );
    assert.match(run.stdout, /^ {2}Suppressed +since .* after a bounce/m);
    // the operator lifts it, as the fix says
    const lifted = await stack.api(
      'DELETE',
      `/api/v1/admin/suppressions/${encodeURIComponent(p.email)}`,
      undefined,
      ADMIN_TOKEN,
    );
    assert.equal(lifted.status, 200, lifted.text);
    const json = JSON.parse((await why(stack, p.email, true)).stdout);
    assert.equal(json.suppression, null);
    assert.equal(
      (await stack.api('DELETE', `/api/v1/admin/suppressions/${encodeURIComponent(p.email)}`, undefined, ADMIN_TOKEN))
        .status,
      404,
    );
  });

  it('an SMS the carrier did not deliver (Twilio 30006): the cause from the receipt, and the hint the person sees', async () => {
    const { phone, row } = await acceptedSms(stack, 'why-sms');
    const fields = { MessageSid: row.provider_id!, MessageStatus: 'undelivered', ErrorCode: '30006' };
    const receipt = await postTwilioReceipt(
      stack,
      fields,
      signAsTwilio(`${PUBLIC_URL}${TWILIO_STATUS_PATH}`, fields, stack.sms.authToken),
    );
    assert.equal(receipt.status, 200);
    const local = phone.replace('+27', '0');
    const run = await why(stack, local);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^Why codes to \\${phone} \\(sms\\) may not arrive$`, 'm'));
    assert.match(
      run.stdout,
      /^ {2}Cause +The newest code ended undelivered: provider reported undelivered: code 30006/m,
    );
    assert.match(
      run.stdout,
      /^ {2}Cause +.*The number is a landline, or its carrier cannot take text messages\.$/m,
      "Twilio's meaning, from the reasons table",
    );
    assert.match(run.stdout, /^ {2}Fix +Ask the person for a mobile number\.$/m);
    assert.match(run.stdout, /^ {6}\S+ {2}receipt → undelivered \(twilio, 30006\)/m, 'the events under the message');
    assert.match(
      run.stdout,
      /^ {2}Person +Your carrier did not accept the message\. Check the number, or try another one\.$/m,
    );
    assert.match(run.stdout, /phone_verification {2}UNDELIVERED/);
  });

  it("a provider's words carrying terminal escapes are shown escaped, never sent to the terminal", async () => {
    const { tokens } = await verifiedLogin(stack, 'why-escape');
    stack.sms.failWith = {
      status: 400,
      code: 21211,
      message: 'bad number \u001b[2J\u001b[31mcall +1 900 555 0100\u001b[0m',
    };
    try {
      assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
      const { phone } = expectStatus(await stack.api('GET', '/api/v1/users/me', undefined, tokens.access_token), 200);
      await messageReaching(stack, phone, 'failed');
      for (const run of [
        await why(stack, phone),
        await runCli(['messages', '--to', phone], { ADMIN_TOKEN, API_BASE_URL: stack.baseUrl }),
      ]) {
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!run.stdout.includes('\u001b'), 'no escape character reaches the terminal');
        assert.ok(run.stdout.includes('\\x1b[2J'), run.stdout);
      }
    } finally {
      stack.sms.failWith = undefined;
    }
  });

  it('no worker running: the code waits for its first attempt, and the fix says to start one', async () => {
    const p = person('why-idle');
    assert.equal((await idle.api('POST', '/api/v1/auth/register', p)).status, 201);
    const run = await why(idle, p.email);
    assert.match(
      run.stdout,
      /^ {2}Cause +The newest code \(email_verification\) has waited since .* for its first attempt\.$/m,
    );
    assert.match(run.stdout, /^ {2}Fix +Is a delivery worker running/m);
    assert.match(run.stdout, /^ {2}Person +Your code is on its way\./m);
  });

  it("the destination's hourly cap of codes sent spent: the cause says only a network's first ask still gets one, and the fix what the person can do", async () => {
    const p = person('why-cap');
    assert.equal((await idle.api('POST', '/api/v1/auth/register', p)).status, 201);
    assert.equal((await idle.api('POST', '/api/v1/auth/resend-verification', { email: p.email })).status, 200);
    assert.equal((await idle.api('POST', '/api/v1/auth/resend-verification', { email: p.email })).status, 429);
    const run = await why(idle, p.email);
    assert.match(
      run.stdout,
      /^ {2}Cause +Limits past which only some asks get a code are reached for .*: hourly cap of other codes sent to this destination \(past it, only each network's first of the hour\) \(OTP_MAX_SENDS_PER_HOUR, \d+ s\)\. An ask from a network that has not had its code/m,
    );
    assert.match(run.stdout, /^ {2}Fix +Ask the person to use the newest code already sent .* or to wait \d+ s\.$/m);
  });

  it('without ADMIN_TOKEN the CLI says what to set (exit 1); a number that is not one answers 400 through the API (exit 1)', async () => {
    const noToken = await runCli(['why', 'a@b.test'], { API_BASE_URL: stack.baseUrl });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /Set ADMIN_TOKEN/);
    const bad = await why(stack, '12');
    assert.equal(bad.code, 1);
    const missing = await runCli(['why'], { ADMIN_TOKEN, API_BASE_URL: stack.baseUrl });
    assert.equal(missing.code, 2);
  });
});
