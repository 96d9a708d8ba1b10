import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { sql } from 'kysely';
import { startSmtpServer } from './support/smtp.ts';
import { startHttpSmsServer, startTwilioServer } from './support/sms.ts';
import { PG_ADMIN_URL, createTestDatabase, pgAvailable } from './support/pg.ts';
import { waitUntil } from './support/wait.ts';
import { borrowMigratedDatabase, reuseDatabases } from './support/pglite-template.ts';
import { isMigrated } from '../src/platform/db/migrations.ts';

test('SMTP fixture: STARTTLS + AUTH delivery, 535, 550, 451', async (t) => {
  const smtp = await startSmtpServer({ rejectRecipients: /^nobody@/, tempFailRecipients: /^later@/ });
  t.after(() => smtp.close());
  const transport = (password: string) =>
    nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      requireTLS: true,
      auth: { user: smtp.username, pass: password },
      tls: { rejectUnauthorized: false },
    });

  const ok = transport(smtp.password);
  await ok.sendMail({
    from: '"Panic" <no-reply@panic.test>',
    to: 'User@Example.com',
    subject: 'Your code',
    text: 'code 123456',
    html: '<p>code <b>123456</b></p>',
  });
  const mail = await smtp.waitFor('user@example.com');
  assert.equal(mail.subject, 'Your code');
  assert.equal(mail.text.trim(), 'code 123456');
  assert.equal(mail.html, '<p>code <b>123456</b></p>');
  assert.equal(mail.from, '"Panic" <no-reply@panic.test>');
  assert.equal(mail.envelopeFrom, 'no-reply@panic.test');
  assert.equal(mail.secure, true);
  assert.equal(mail.user, 'mailer');

  await assert.rejects(transport('wrong').sendMail({ from: 'a@b.test', to: 'x@y.test', text: 'x' }), {
    responseCode: 535,
  });
  assert.equal(smtp.authFailures, 1);
  await assert.rejects(ok.sendMail({ from: 'a@b.test', to: 'nobody@y.test', text: 'x' }), { responseCode: 550 });
  await assert.rejects(ok.sendMail({ from: 'a@b.test', to: 'later@y.test', text: 'x' }), { responseCode: 451 });
  assert.equal(smtp.messages.length, 1);
  await assert.rejects(smtp.waitFor('user@example.com', { count: 2, timeoutMs: 100 }), /timed out waiting for/);
});

test('Twilio fixture: send, 401, 400, failWith, account GET', async (t) => {
  const tw = await startTwilioServer();
  t.after(() => tw.close());
  const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  const post = (auth: string, form: Record<string, string>) =>
    fetch(tw.messagesUrl, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
  const good = basic(tw.accountSid, tw.authToken);

  const res = await post(good, { To: '+15551230000', From: '+15550000000', Body: 'code 42' });
  assert.equal(res.status, 201);
  const json = (await res.json()) as { sid: string; status: string; to: string; body: string };
  assert.match(json.sid, /^SM[0-9a-f]{32}$/);
  assert.equal(json.status, 'queued');
  assert.equal(json.to, '+15551230000');
  const sms = await tw.waitFor('+15551230000');
  assert.deepEqual(sms, { to: '+15551230000', from: '+15550000000', body: 'code 42', sid: json.sid });

  const denied = await post(basic(tw.accountSid, 'nope'), { To: '+1', From: '+2', Body: 'x' });
  assert.equal(denied.status, 401);
  assert.equal(((await denied.json()) as { code: number }).code, 20003);
  const missing = await post(good, { From: '+2', Body: 'x' });
  assert.equal(missing.status, 400);
  assert.equal(((await missing.json()) as { code: number }).code, 21604);

  tw.failWith = { status: 429 };
  const limited = await post(good, { To: '+1', From: '+2', Body: 'x' });
  assert.equal(limited.status, 429);
  assert.equal(((await limited.json()) as { code: number }).code, 20429);
  tw.failWith = undefined;

  const acct = await fetch(tw.accountUrl, { headers: { authorization: good } });
  assert.equal(acct.status, 200);
  assert.deepEqual(await acct.json(), {
    sid: tw.accountSid,
    owner_account_sid: tw.accountSid,
    friendly_name: 'test',
    status: 'active',
    type: 'Full',
    uri: `/2010-04-01/Accounts/${tw.accountSid}.json`,
  });
  tw.account = { type: 'Trial', status: 'suspended' };
  const trial = (await (await fetch(tw.accountUrl, { headers: { authorization: good } })).json()) as {
    type: string;
    status: string;
  };
  assert.deepEqual([trial.type, trial.status], ['Trial', 'suspended']);
  assert.equal((await fetch(tw.accountUrl)).status, 401);
  assert.equal(tw.messages.length, 1);
  assert.equal(tw.requests, 7);
});

test('HTTP SMS fixture: Bearer key accepted, wrong key refused', async (t) => {
  const sms = await startHttpSmsServer();
  t.after(() => sms.close());
  const send = (key: string, body: string) =>
    fetch(sms.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });

  const res = await send(sms.apiKey, JSON.stringify({ to: '+15551230000', body: 'code 7' }));
  assert.equal(res.status, 200);
  const { id } = (await res.json()) as { id: string };
  assert.deepEqual(await sms.waitFor('+15551230000'), { to: '+15551230000', body: 'code 7', id });
  const denied = await send('wrong', JSON.stringify({ to: '+1', body: 'x' }));
  assert.equal(denied.status, 401);
  assert.deepEqual(await denied.json(), { error: 'unauthorized' });
  assert.equal((await send(sms.apiKey, '{nope')).status, 400);
  assert.equal((await send(sms.apiKey, JSON.stringify({ to: '+1' }))).status, 400);
  assert.equal(sms.messages.length, 1);
});

test('waitUntil polls until truthy and times out with a clear message', async () => {
  let n = 0;
  assert.equal(await waitUntil(() => (++n >= 3 ? n : 0), { intervalMs: 1 }), 3);
  await assert.rejects(
    waitUntil(() => false, { timeoutMs: 30, what: 'nothing' }),
    /^Error: timed out waiting for nothing$/,
  );
});

test('PostgreSQL fixture: create, connect, drop', async (t) => {
  if (!(await pgAvailable())) return t.skip('PostgreSQL not available');
  const db = await createTestDatabase();
  const name = new URL(db.url).pathname.slice(1);
  assert.match(name, /^panic_test_[0-9a-f]+$/);
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {}); // the forced drop below kills this connection
  await client.connect();
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  assert.equal(rows[0].db, name);
  // drop() must succeed even while a connection is still open.
  await db.drop();
  await client.end().catch(() => {});
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    assert.equal(left.rowCount, 0);
  } finally {
    await admin.end();
  }
});

test('PGlite reuse: a database given back is the next one borrowed, migrated and empty again (rows, LISTEN)', async (t) => {
  t.after(reuseDatabases());
  const first = await borrowMigratedDatabase();
  const { db } = first.handle;
  const now = new Date();
  await db
    .insertInto('users')
    .values({
      email: 'kept@example.test',
      phone: '+27821234567',
      first_name: 'A',
      last_name: 'B',
      created_at: now,
      updated_at: now,
    })
    .execute();
  let heard = 0;
  await first.handle.listen('left_behind', () => heard++);
  await first.giveBack();

  const second = await borrowMigratedDatabase();
  t.after(() => second.giveBack());
  assert.equal(second.handle, first.handle, 'the same open database');
  assert.equal(await isMigrated(second.handle.db), true);
  assert.deepEqual(await second.handle.db.selectFrom('users').select('email').execute(), []);
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_listening_channels()`.execute(
    second.handle.db,
  );
  assert.equal(rows[0].n, 0, 'no LISTEN of the last borrower is left');
});
