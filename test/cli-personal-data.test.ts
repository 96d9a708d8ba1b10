/**
 * A person's data from the command line (issue 22 §3), the real `panic-api` in child processes against
 * a running service: the person's `export` and `delete-account`, support's `user` and `delete-user`,
 * and each refusal (no --yes without a terminal, a wrong password or code, a person who is not there).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, expectStatus } from './support/api.ts';
import { failed, noTerminal, ok, runAtTerminal, runCli, type CliRun } from './support/cli.ts';
import { insertedAccount, person, startStack, verifiedLogin, wrongCode, type Stack } from './support/stack.ts';
import type { PersonalData } from '../src/contract/personal-data.ts';

const ADMIN_TOKEN = 'cli-personal-data-admin-token-0123456789';

/** Exit 2: the sentence, then the command's usage line. */
const refused = (run: CliRun, pattern: RegExp, usage: string) => {
  assert.equal(run.code, 2, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr, pattern);
  assert.ok(run.stderr.includes(`\nUsage: ${usage}\n`), run.stderr);
  assert.equal(run.stdout, '');
};

const escaped = (text: string) => text.replace(/[.+*?()[\]|^$]/g, '\\$&');

describe('panic-api export, delete-account, user and delete-user against a running server', () => {
  let stack: Stack;
  let dir: string;
  before(async () => {
    stack = await startStack({ env: { ADMIN_TOKEN } });
    dir = mkdtempSync(join(tmpdir(), 'panic-cli-data-'));
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The environment of a person's own session file. */
  const personEnv = (tag: string) => ({
    API_BASE_URL: stack.baseUrl,
    PANIC_API_SESSION_FILE: join(dir, tag, 'session.json'),
  });
  const adminEnv = () => ({ API_BASE_URL: stack.baseUrl, ADMIN_TOKEN });
  const accessToken = (env: { PANIC_API_SESSION_FILE: string }): string =>
    JSON.parse(readFileSync(env.PANIC_API_SESSION_FILE, 'utf8')).access_token;

  /** A verified account with a password, signed in with `panic-api login` (and once more through the API). */
  async function signedIn(tag: string) {
    const { person: p } = await verifiedLogin(stack, tag);
    const env = personEnv(tag);
    ok(await runCli(['login', p.email, '--password', p.password], env), 'login');
    return { p, env };
  }

  const lookUp = (email: string) =>
    stack.api('GET', `/api/v1/admin/users?email=${encodeURIComponent(email)}`, undefined, ADMIN_TOKEN);

  it('export prints the JSON document; --out FILE writes it readable only by its owner and says what it holds', async () => {
    const { p, env } = await signedIn('cli-export');
    const printed = await runCli(['export'], env);
    ok(printed, 'export');
    const data: PersonalData = JSON.parse(printed.stdout);
    assert.equal(data.account.email, p.email);
    assert.equal(data.account.has_password, true);
    assert.equal(data.sessions.length, 2, 'the API login and the CLI login');
    const types = new Set(data.events.map((e) => e.type));
    for (const type of ['registered', 'email_verified', 'login_succeeded'] as const)
      assert.ok(types.has(type), `event ${type} in ${[...types].join(', ')}`);
    assert.ok(
      data.messages.some((m) => m.recipient === p.email),
      'the verification email',
    );

    // an older file, readable by all, is replaced by one only its owner reads
    const file = join(dir, 'cli-export', 'my-data.json');
    writeFileSync(file, 'an older export', { mode: 0o644 });
    const written = await runCli(['export', '--out', file], env);
    ok(written, 'export --out');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const saved: PersonalData = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(saved.account.id, data.account.id);
    assert.equal(written.stdout.split('\n').length, 2, `one line: ${written.stdout}`);
    assert.ok(written.stdout.startsWith(`Your data is in ${file} (only you can read it): the account ${p.email}, `));
    const n = (what: string) => Number(written.stdout.match(new RegExp(`(\\d+) ${what}s?\\b`))?.[1]);
    assert.equal(n('session'), saved.sessions.length);
    assert.equal(n('account event'), saved.events.length);
    assert.equal(n('message'), saved.messages.length);
    assert.ok(saved.events.length > 0 && saved.messages.length > 0);

    failed(
      await runCli(['export', '--out', join(dir, 'no such folder', 'x.json')], env),
      /^Cannot write .*x\.json: its folder does not exist\.$/,
    );
    failed(
      await runCli(['export'], personEnv('cli-export-nobody')),
      /^Not logged in: run `panic-api login EMAIL` first\.$/,
    );
  });

  it('delete-account: no --yes without a terminal, no password, a wrong one are refused and delete nothing; the password deletes it, the session file goes and the address registers again', async () => {
    const { p, env } = await signedIn('cli-delete');
    const token = accessToken(env);
    const usage = 'panic-api delete-account [--password P] [--otp CODE] [--yes] [--json]';

    refused(
      await runCli(['delete-account', '--password', p.password], env),
      /^Deleting your account cannot be undone: give --yes to confirm it, or run this in a terminal to be asked\.\n/,
      usage,
    );
    refused(
      await runCli(['delete-account', '--yes'], env),
      /^No password: give --password P \(or --otp CODE\), or run this in a terminal to be asked for it\.\n/,
      usage,
    );
    refused(
      await runCli(['delete-account', '--yes', '--password', p.password, '--otp', '123456'], env),
      /^Give --password or --otp \(a sign-in code\), not both\.\n/,
      usage,
    );
    failed(
      await runCli(['delete-account', '--yes', '--password', 'not the password'], env),
      /^The password is wrong\. \(invalid_credentials, HTTP 401\)$/,
    );
    assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, token)).status, 200, 'still there');
    assert.ok(existsSync(env.PANIC_API_SESSION_FILE), 'and still signed in');

    const run = await runCli(['delete-account', '--yes', '--password', p.password], env);
    ok(run, 'delete-account');
    assert.match(run.stdout, /^Your account was deleted, and your email address and phone number erased/);
    assert.ok(run.stdout.includes(`You are logged out (${env.PANIC_API_SESSION_FILE} is deleted)`), run.stdout);
    assert.ok(run.stdout.includes('it can register again at once'), run.stdout);
    assert.ok(!existsSync(env.PANIC_API_SESSION_FILE));
    assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, token)).status, 401, 'its tokens die');
    assert.equal(errorCode(await lookUp(p.email)), 'not_found');
    expectStatus(await stack.api('POST', '/api/v1/auth/register', p), 201);
    failed(await runCli(['delete-account', '--yes', '--password', p.password], env), /^Not logged in: /);
  });

  it('delete-account --otp: an account without a password is deleted with a fresh sign-in code, never a wrong one', async () => {
    const p = await insertedAccount(stack, person('cli-delete-otp'), stack.runtime.services.clock(), true);
    const env = personEnv('cli-delete-otp');
    ok(await runCli(['login', p.email, '--code'], env), 'login --code (sends it)');
    ok(await runCli(['login', p.email, '--code', await stack.emailCode(p.email, 1)], env), 'login --code OTP');
    expectStatus(await stack.api('POST', '/api/v1/auth/otp', { email: p.email }), 200);
    const code = await stack.emailCode(p.email, 2);

    const wrong = await runCli(['delete-account', '--yes', '--otp', wrongCode(code), '--json'], env);
    failed(wrong, /\(otp_invalid, HTTP 400\)$/);
    assert.equal(JSON.parse(wrong.stdout).error.code, 'otp_invalid', '--json prints the error body too');
    const run = await runCli(['delete-account', '--yes', '--otp', code, '--json'], env);
    ok(run, 'delete-account --otp');
    assert.equal(JSON.parse(run.stdout).deleted, true);
    assert.ok(!existsSync(env.PANIC_API_SESSION_FILE));
    assert.equal(errorCode(await lookUp(p.email)), 'not_found');
  });

  it('user: support finds a person by email or any spelling of the phone; an unknown one, or no ADMIN_TOKEN, is one sentence', async () => {
    const { person: p } = await verifiedLogin(stack, 'cli-user');
    const run = await runCli(['user', p.email.toUpperCase()], adminEnv());
    ok(run, 'user');
    const id = expectStatus(await lookUp(p.email), 200).user.id;
    for (const line of [
      `${p.first_name} ${p.last_name}`,
      `  email    ${p.email} (verified)`,
      `  phone    ${p.phone} (NOT verified)`,
      `  id       ${id}`,
      '  locale   en',
    ])
      assert.ok(run.stdout.split('\n').includes(line), `"${line}" in:\n${run.stdout}`);
    assert.match(run.stdout, /^ {2}created {2}\S/m);
    assert.ok(run.stdout.includes(`panic-api delete-user ${id}`), run.stdout);

    const local = `0${p.phone.slice(3, 5)} ${p.phone.slice(5, 8)} ${p.phone.slice(8)}`;
    const found = await runCli(['user', local, '--json'], adminEnv());
    ok(found, 'user PHONE --json');
    assert.equal(JSON.parse(found.stdout).user.id, id);

    failed(
      await runCli(['user', 'nobody.here@example.test'], adminEnv()),
      /^No account has nobody\.here@example\.test\. \(not_found, HTTP 404\)$/,
    );
    failed(await runCli(['user', p.email], { API_BASE_URL: stack.baseUrl }), /^Set ADMIN_TOKEN /);
    failed(
      await runCli(['user', p.email], { ...adminEnv(), ADMIN_TOKEN: 'not-the-admin-token' }),
      /\(unauthorized, HTTP 401\)$/,
    );
  });

  it('delete-user: no --yes without a terminal is refused; by email, or by id with --json, it deletes with the admin as actor; a person not there is one sentence', async () => {
    const { person: p } = await verifiedLogin(stack, 'cli-delete-user');
    const id = expectStatus(await lookUp(p.email), 200).user.id;
    refused(
      await runCli(['delete-user', p.email], adminEnv()),
      /^Deleting an account cannot be undone: give --yes to confirm it, or run this in a terminal to be asked\.\n/,
      'panic-api delete-user ID|EMAIL|PHONE [--yes] [--json]',
    );
    expectStatus(await lookUp(p.email), 200);

    const run = await runCli(['delete-user', p.email, '--yes'], adminEnv());
    ok(run, 'delete-user EMAIL');
    assert.ok(run.stdout.startsWith(`The account ${id} (${p.email}) is deleted: `), run.stdout);
    assert.ok(run.stdout.includes('they can register again'), run.stdout);
    assert.equal(errorCode(await lookUp(p.email)), 'not_found');
    const last = await stack.runtime.services.db
      .selectFrom('account_events')
      .select(['type', 'actor'])
      .where('user_id', '=', id)
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    assert.deepEqual(last, { type: 'account_deleted', actor: 'admin' });

    failed(
      await runCli(['delete-user', id, '--yes'], adminEnv()),
      /^No account has this id: it may have been deleted already\. \(not_found, HTTP 404\)$/,
    );
    failed(
      await runCli(['delete-user', p.email, '--yes'], adminEnv()),
      new RegExp(`^No account has ${escaped(p.email)}\\. \\(not_found, HTTP 404\\)$`),
    );

    const { person: q } = await verifiedLogin(stack, 'cli-delete-user-id');
    const qid = expectStatus(await lookUp(q.email), 200).user.id;
    const byId = await runCli(['delete-user', qid, '--yes', '--json'], adminEnv());
    ok(byId, 'delete-user ID --json');
    assert.deepEqual(JSON.parse(byId.stdout), { id: qid, deleted: true });
    assert.equal(errorCode(await lookUp(q.email)), 'not_found');
  });

  it('at a terminal, the account is shown and its email typed back: another text deletes nothing, the email deletes it', {
    skip: noTerminal,
  }, async () => {
    const { p, env } = await signedIn('cli-delete-tty');
    const typo = await runAtTerminal(['delete-account'], env, [
      ['Password:', p.password],
      ['to delete it:', `x${p.email}`],
    ]);
    assert.equal(typo.code, 1, typo.screen);
    assert.ok(typo.screen.includes(`  email    ${p.email} (verified)`), `the account is shown: ${typo.screen}`);
    assert.ok(typo.screen.includes(`That is not ${p.email}: nothing was deleted.`), typo.screen);
    expectStatus(await lookUp(p.email), 200);

    const meant = await runAtTerminal(['delete-account'], env, [
      ['Password:', p.password],
      ['to delete it:', p.email.toUpperCase()],
    ]);
    assert.equal(meant.code, 0, meant.screen);
    assert.ok(meant.screen.includes('Your account was deleted'), meant.screen);
    assert.ok(!meant.screen.includes(p.password), `the password was not echoed: ${meant.screen}`);
    assert.ok(!existsSync(env.PANIC_API_SESSION_FILE));
    assert.equal(errorCode(await lookUp(p.email)), 'not_found');

    // support, by a local spelling of the phone: the person is shown, then their email is typed back
    const { person: q } = await verifiedLogin(stack, 'cli-delete-user-tty');
    const local = `0${q.phone.slice(3, 5)} ${q.phone.slice(5, 8)} ${q.phone.slice(8)}`;
    const support = await runAtTerminal(['delete-user', local], adminEnv(), [['to delete it:', q.email]]);
    assert.equal(support.code, 0, support.screen);
    assert.ok(support.screen.includes(`  phone    ${q.phone} (NOT verified)`), support.screen);
    assert.ok(support.screen.includes(`Type its email, ${q.email}, to delete it:`), support.screen);
    assert.ok(support.screen.includes(`(${q.email}) is deleted`), support.screen);
    assert.equal(errorCode(await lookUp(q.email)), 'not_found');
  });
});
