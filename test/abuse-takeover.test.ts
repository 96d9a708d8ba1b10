/**
 * Issue 4 (abuse defense), items 5, 9 and 10, written as the attacks:
 * - pre-hijack: a stranger registers your address first (or after you), with a password of theirs;
 * - refresh-token reuse: a stolen refresh token is replayed after rotation;
 * - names as a phishing carrier: a first_name with CRLF, a link and a number to call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, type RequestBody } from './support/api.ts';
import { databaseKinds, startStack, type Stack, randomPerson } from './support/stack.ts';

const START = Date.parse('2031-05-04T10:00:00.000Z');
const HOUR = 3_600_000;

/** A random identity whose password is the owner's own. */
const fresh = (tag: string) => ({ ...randomPerson(tag), password: 'the owner chose this one' });

const ATTACKER_PASSWORD = 'the attacker knows this';
const OWNER_PASSWORD = 'the owner chose this one';
const RESET_PASSWORD = 'set by the owner via reset';

/** The types at every leaf of a JSON value, keys sorted: two bodies of one shape compare equal. */
const shape = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(shape)
    : v !== null && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, x]) => [k, shape(x)]),
        )
      : v === null
        ? 'null'
        : typeof v;

for (const db of await databaseKinds()) {
  describe(`account takeover defenses (${db})`, () => {
    let stack: Stack;
    let now = START;
    before(async () => {
      stack = await startStack({ db, clock: () => new Date(now) });
    });
    after(() => stack.close());

    type RegisterPath = '/api/v1/auth/register' | '/api/v1/users/register';
    const register = (body: RequestBody<'POST', RegisterPath>, path: RegisterPath = '/api/v1/auth/register') =>
      stack.api('POST', path, body);
    const login = (email: string, password: string) => stack.api('POST', '/api/v1/auth/login', { email, password });
    /**
     * Waits for the mail of the registration just made: a second registration of the address replaces
     * its code, and a message whose code was replaced before the worker sent it is never sent.
     */
    const sent = (email: string, count = 1) => stack.smtp.waitFor(email, { count });
    const mailsTo = (email: string) =>
      stack.smtp.messages.filter((m) => m.envelopeTo.includes(email.toLowerCase())).length;
    const userRow = (email: string) =>
      stack.runtime.services.db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', email.toLowerCase())
        .executeTakeFirst();

    const assertRefusedLogin = async (email: string, password: string, who: string) => {
      const r = await login(email, password);
      assert.equal(r.status, 401, `${who}: ${r.text}`);
      assert.equal(errorCode(r), 'invalid_credentials', who);
    };

    /** The owner's way back in: a reset code from their inbox, and a password they choose. */
    async function ownerResets(email: string, mailsBefore: number) {
      const forgot = await stack.api('POST', '/api/v1/auth/forgot-password', { email });
      assert.equal(forgot.status, 200, forgot.text);
      const otp = await stack.emailCode(email, mailsBefore + 1);
      const reset = await stack.api('POST', '/api/v1/auth/reset-password', {
        email,
        otp,
        new_password: RESET_PASSWORD,
      });
      assert.equal(reset.status, 200, reset.text);
    }

    describe('pre-hijack: a pending registration belongs to nobody until the inbox is proved', () => {
      it("the attacker registers the owner's address first: the owner gets 201 like any new registration, verifies, and neither password logs in until the owner resets it", async () => {
        const owner = fresh('prehijack-owner');
        const attacker = {
          ...fresh('prehijack-attacker'),
          email: owner.email,
          first_name: 'Mallory',
          last_name: 'Evil',
          password: ATTACKER_PASSWORD,
        };

        const first = await register(attacker);
        assert.equal(first.status, 201, first.text);
        await sent(owner.email);
        now += 60_000;

        // A registration of an address nobody has, at the same moment: what "like a new one" means.
        const control = fresh('prehijack-control');
        const controlReg = await register(control);
        assert.equal(controlReg.status, 201, controlReg.text);

        const second = await register({ ...owner, password: OWNER_PASSWORD });
        assert.equal(second.status, 201, `the owner must not be told "taken" (409): ${second.text}`);
        assert.deepEqual(shape(second.body), shape(controlReg.body), 'same body shape as a new registration');
        assert.equal(second.body.message, controlReg.body.message.replace(control.email, owner.email));
        assert.deepEqual(second.body.verification, controlReg.body.verification);
        assert.equal(
          second.body.user.created_at,
          new Date(now).toISOString(),
          "created_at is the owner's registration time",
        );
        assert.equal(second.body.user.email_verified, false);
        // The attacker's names and phone were replaced by the owner's.
        assert.equal(second.body.user.first_name, owner.first_name);
        assert.equal(second.body.user.last_name, owner.last_name);
        assert.equal(second.body.user.phone, owner.phone);

        // The owner verifies with the newest code in their inbox.
        const otp = await stack.emailCode(owner.email, 2);
        const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp });
        assert.equal(verified.status, 200, verified.text);
        assert.equal(verified.body.user.email_verified, true);
        assert.match(verified.body.message, /neither was kept/);
        assert.match(verified.body.message, /forgot-password/);

        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the attacker's password");
        await assertRefusedLogin(owner.email, OWNER_PASSWORD, "the owner's registration password (contested, cleared)");

        await ownerResets(owner.email, 2);
        const ok = await login(owner.email, RESET_PASSWORD);
        assert.equal(ok.status, 200, ok.text);
        assert.ok(ok.body.access_token);
        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the attacker's password, after the reset");
      });

      it("the attacker registers after the owner: once the owner verifies, the attacker's password does not log in", async () => {
        const owner = fresh('late-owner');
        assert.equal((await register({ ...owner, password: OWNER_PASSWORD })).status, 201);
        await sent(owner.email);
        const late = await register({
          ...fresh('late-attacker'),
          email: owner.email,
          first_name: 'Mallory',
          password: ATTACKER_PASSWORD,
        });
        assert.equal(late.status, 201, late.text);

        const otp = await stack.emailCode(owner.email, 2);
        const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp });
        assert.equal(verified.status, 200, verified.text);
        assert.match(verified.body.message, /neither was kept/);
        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the late attacker's password");
        await assertRefusedLogin(owner.email, OWNER_PASSWORD, "the owner's password (contested, cleared)");

        await ownerResets(owner.email, 2);
        assert.equal((await login(owner.email, RESET_PASSWORD)).status, 200);
        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the late attacker's password, after the reset");
      });

      it('the same password registered twice (the owner retrying) is not contested: after verifying it logs in', async () => {
        const owner = fresh('retry');
        assert.equal((await register(owner)).status, 201);
        await sent(owner.email);
        const again = await register(owner);
        assert.equal(again.status, 201, again.text);
        const otp = await stack.emailCode(owner.email, 2);
        const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp });
        assert.equal(verified.status, 200, verified.text);
        assert.match(verified.body.message, /You can log in now/);
        const ok = await login(owner.email, owner.password);
        assert.equal(ok.status, 200, ok.text);
      });

      it('a re-registration issues a new code and the earlier one dies', async () => {
        const owner = fresh('old-code');
        assert.equal((await register(owner)).status, 201);
        const oldCode = await stack.emailCode(owner.email, 1);
        // Re-register until the new code differs from the old one (equal by chance once in a million).
        let newCode = oldCode;
        for (let n = 2; newCode === oldCode && n <= 4; n++) {
          assert.equal((await register(owner)).status, 201);
          newCode = await stack.emailCode(owner.email, n);
        }
        assert.notEqual(newCode, oldCode);
        const stale = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp: oldCode });
        assert.equal(stale.status, 400, stale.text);
        assert.equal(errorCode(stale), 'otp_invalid');
        const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp: newCode });
        assert.equal(ok.status, 200, ok.text);
      });

      it('409 email_taken only for a verified address (both routes), and a refused registration changes nothing', async () => {
        const owner = fresh('taken');
        assert.equal((await register(owner)).status, 201);
        const otp = await stack.emailCode(owner.email);
        assert.equal((await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp })).status, 200);
        const before = await userRow(owner.email);

        const attacker = {
          ...fresh('taken-attacker'),
          email: owner.email,
          first_name: 'Mallory',
          password: ATTACKER_PASSWORD,
        };
        for (const [path, body] of [
          ['/api/v1/auth/register', attacker],
          ['/api/v1/users/register', { ...attacker, password: undefined }],
          ['/api/v1/users/register', attacker],
        ] as const) {
          const r = await register(body, path);
          assert.equal(r.status, 409, `${path}: ${r.text}`);
          assert.equal(errorCode(r), 'email_taken', path);
        }
        assert.deepEqual(await userRow(owner.email), before, 'the verified account is untouched');
        assert.equal(mailsTo(owner.email), 1, 'no code was sent for the refused registrations');
        assert.equal((await login(owner.email, owner.password)).status, 200);
        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the attacker's password");
      });

      it("the /users/register alias (no password) replaces a pending account too: the attacker's password dies at verification", async () => {
        const owner = fresh('alias-owner');
        const attack = await register({
          ...fresh('alias-attacker'),
          email: owner.email,
          first_name: 'Mallory',
          password: ATTACKER_PASSWORD,
        });
        assert.equal(attack.status, 201, attack.text);
        await sent(owner.email);

        const control = fresh('alias-control');
        const controlReg = await register({ ...control, password: undefined }, '/api/v1/users/register');
        assert.equal(controlReg.status, 200, controlReg.text);
        const viaAlias = await register({ ...owner, password: undefined }, '/api/v1/users/register');
        assert.equal(viaAlias.status, 200, `the alias answers 200, never 409, for a pending address: ${viaAlias.text}`);
        assert.deepEqual(shape(viaAlias.body), shape(controlReg.body));
        assert.equal(viaAlias.body.user.first_name, owner.first_name);

        const otp = await stack.emailCode(owner.email, 2);
        const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: owner.email, otp });
        assert.equal(verified.status, 200, verified.text);
        await assertRefusedLogin(owner.email, ATTACKER_PASSWORD, "the attacker's password");
        await ownerResets(owner.email, 2);
        assert.equal((await login(owner.email, RESET_PASSWORD)).status, 200);

        // Two password-less alias registrations are the same "no password": not contested.
        const twice = fresh('alias-twice');
        assert.equal((await register({ ...twice, password: undefined }, '/api/v1/users/register')).status, 200);
        await sent(twice.email);
        assert.equal((await register({ ...twice, password: undefined }, '/api/v1/users/register')).status, 200);
        const code = await stack.emailCode(twice.email, 2);
        const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: twice.email, otp: code });
        assert.equal(ok.status, 200, ok.text);
        assert.match(ok.body.message, /You can log in now/);
      });

      it('maintenance removes accounts left unverified longer than UNVERIFIED_ACCOUNT_TTL_HOURS (72), never younger or verified ones; the address is free again', async () => {
        assert.equal(stack.runtime.config.UNVERIFIED_ACCOUNT_TTL_HOURS, 72);
        // Earlier tests left pending accounts: age them out first, so the counts below are this test's alone.
        now += 73 * HOUR;
        await stack.runtime.maintenance.runOnce();

        const t0 = now;
        const stale = fresh('ttl-stale');
        const renewed = fresh('ttl-renewed');
        const verified = fresh('ttl-verified');
        for (const p of [stale, renewed, verified]) assert.equal((await register(p)).status, 201);
        await sent(stale.email); // counted below, before its new registration
        const code = await stack.emailCode(verified.email);
        assert.equal(
          (await stack.api('POST', '/api/v1/auth/verify-account', { email: verified.email, otp: code })).status,
          200,
        );

        now = t0 + 48 * HOUR;
        const young = fresh('ttl-young');
        assert.equal((await register(young)).status, 201);
        // Registering again counts from the new registration.
        assert.equal((await register(renewed)).status, 201);

        now = t0 + 72 * HOUR;
        assert.equal((await stack.runtime.maintenance.runOnce()).users, 0, 'exactly 72 h old is not older than 72 h');
        now += 1000;
        assert.equal((await stack.runtime.maintenance.runOnce()).users, 1);
        assert.equal(await userRow(stale.email), undefined, 'the stale pending account is gone');
        for (const p of [renewed, verified, young]) assert.ok(await userRow(p.email), `${p.email} stays`);
        assert.equal(
          (await login(verified.email, verified.password)).status,
          200,
          'the verified account still logs in',
        );

        // A verified account never expires, however old.
        now += 365 * 24 * HOUR;
        await stack.runtime.maintenance.runOnce();
        assert.ok(await userRow(verified.email));
        assert.equal(await userRow(young.email), undefined);

        // The removed address registers again, verifies and logs in.
        const mails = mailsTo(stale.email);
        const again = await register({ ...stale, password: OWNER_PASSWORD });
        assert.equal(again.status, 201, again.text);
        const otp = await stack.emailCode(stale.email, mails + 1);
        const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: stale.email, otp });
        assert.equal(ok.status, 200, ok.text);
        assert.match(ok.body.message, /You can log in now/);
        assert.equal((await login(stale.email, OWNER_PASSWORD)).status, 200);
      });
    });

    describe('refresh-token reuse', () => {
      it('replaying a rotated refresh token revokes its whole session (successor refresh and access tokens), and only that session', async () => {
        const p = fresh('reuse');
        assert.equal((await register(p)).status, 201);
        const otp = await stack.emailCode(p.email);
        assert.equal((await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp })).status, 200);
        const firstLogin = await login(p.email, p.password);
        assert.equal(firstLogin.status, 200, firstLogin.text);
        const pair1 = firstLogin.body;
        // Another device of the same account: a session of its own.
        const otherDevice = await login(p.email, p.password);
        assert.equal(otherDevice.status, 200, otherDevice.text);

        // One holder of the stolen token rotates it...
        const rotated = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: pair1.refresh_token });
        assert.equal(rotated.status, 200, rotated.text);
        const pair2 = rotated.body;
        assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, pair2.access_token)).status, 200);

        // ...and the other presents the same token again.
        const replay = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: pair1.refresh_token });
        assert.equal(replay.status, 401, replay.text);
        assert.equal(errorCode(replay), 'invalid_refresh_token');

        const successor = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: pair2.refresh_token });
        assert.equal(successor.status, 401, `the successor refresh token must die with the session: ${successor.text}`);
        assert.equal(errorCode(successor), 'invalid_refresh_token');
        for (const [what, token] of [
          ['access token of pair 2', pair2.access_token],
          ['access token of pair 1', pair1.access_token],
        ]) {
          const me = await stack.api('GET', '/api/v1/auth/me', undefined, token);
          assert.equal(me.status, 401, `${what}: ${me.text}`);
          assert.equal(errorCode(me), 'unauthorized');
        }

        // The account's other session is untouched.
        const meOther = await stack.api('GET', '/api/v1/auth/me', undefined, otherDevice.body.access_token);
        assert.equal(meOther.status, 200, meOther.text);
        const refreshOther = await stack.api('POST', '/api/v1/auth/refresh', {
          refresh_token: otherDevice.body.refresh_token,
        });
        assert.equal(refreshOther.status, 200, refreshOther.text);
      });
    });

    describe('names: letters of people, not links and phone numbers', () => {
      const ROUTES = [
        ['/api/v1/auth/register', 201],
        ['/api/v1/users/register', 200],
      ] as const;
      const ACCEPTED = [
        'Zoë',
        'Zoe\u0308', // e + combining diaeresis
        "N'Golo",
        'Jean-Luc',
        'O’Brien',
        'Nkosazana Dlamini-Zuma',
        '李小龍',
        'Ñandú',
        'J. R.',
        'J.R.R.', // initials: a dot followed by one letter
        `N${'a'.repeat(63)}`, // 64 characters
      ];
      const REFUSED: Array<[string, string]> = [
        ['a digit', 'Thandi2'],
        ['only digits', '0825550123'],
        ['a phone number', '+27 82 555 0123'],
        ['CR', 'Tha\rndi'],
        ['LF', 'Tha\nndi'],
        ['CRLF', 'Thandi\r\nMokoena'],
        ['a tab', 'Tha\tndi'],
        ['BEL', 'Tha\u0007ndi'],
        ['a line separator (U+2028)', 'Tha\u2028ndi'],
        ['://', 'Thandi http://evil'],
        ['a bare ://', 'evil://x'],
        ['www.', 'www.evil.example'],
        ['WwW. inside', 'Visit WwW.evil'],
        ['a bare domain', 'Visit evilsite.com now'],
        ['a short link', 'bit.ly'],
        ['full-width letters spelling www.', 'ｗｗｗ.evil.example'],
        ['only combining marks', '\u0301\u0301'],
        ['empty', ''],
        ['only spaces', '   '],
        ['only a hyphen', '-'],
        ['65 characters', `N${'a'.repeat(64)}`],
      ];

      it('accepts names of any script, with apostrophes, hyphens, dots and spaces, up to 64 characters, on both register routes', async () => {
        for (const [path, status] of ROUTES) {
          for (const name of ACCEPTED) {
            const p = fresh('name-ok');
            const r = await register({ ...p, first_name: name, last_name: name }, path);
            assert.equal(r.status, status, `${path} ${JSON.stringify(name)}: ${r.text}`);
            // kept in NFC: 'Zoe\u0308' is stored as 'Zoë' (names.ts)
            assert.equal(r.body.user.first_name, name.normalize('NFC'));
            assert.equal(r.body.user.last_name, name.normalize('NFC'));
          }
        }
      });

      it('refuses digits, control characters, "://", "www." and more than 64 characters with 400 validation_error, in either name, on both routes, storing nothing', async () => {
        for (const [path] of ROUTES) {
          for (const field of ['first_name', 'last_name'] as const) {
            for (const [what, name] of REFUSED) {
              const p = fresh('name-bad');
              const r = await register({ ...p, [field]: name }, path);
              assert.equal(r.status, 400, `${path} ${field} with ${what} (${JSON.stringify(name)}): ${r.text}`);
              assert.equal(errorCode(r), 'validation_error', `${path} ${field} with ${what}`);
              assert.match(r.body.error.message, new RegExp(field), 'the message names the field');
              assert.equal(await userRow(p.email), undefined, `${path} ${field} with ${what}: no account stored`);
            }
          }
        }
      });

      it('the phishing name (CRLF, a link, a number to call) is refused and nothing reaches the mailbox it was aimed at', async () => {
        const PHISH = 'Thandi\r\nClick http://evil.example/reset or call +27 82 555 0123';
        const targets: string[] = [];
        for (const [path] of ROUTES) {
          const victim = fresh('phish-target');
          targets.push(victim.email);
          const r = await register({ ...victim, first_name: PHISH }, path);
          assert.equal(r.status, 400, `${path}: ${r.text}`);
          assert.equal(errorCode(r), 'validation_error');
          assert.match(r.body.error.message, /first_name/);
        }
        // A legitimate registration after the attack: once its mail has arrived, the worker has had its chance.
        const control = fresh('phish-control');
        assert.equal((await register(control)).status, 201);
        await stack.smtp.waitFor(control.email);

        for (const email of targets) {
          assert.equal(await userRow(email), undefined, `no account for ${email}`);
          const queued = await stack.runtime.services.db
            .selectFrom('messages')
            .select('id')
            .where('recipient', '=', email)
            .execute();
          assert.deepEqual(queued, [], `nothing queued for ${email}`);
          assert.equal(mailsTo(email), 0, `no mail reached ${email}`);
        }
        const carried = stack.smtp.messages.filter((m) => /evil\.example|555 0123/.test(m.raw));
        assert.deepEqual(
          carried.map((m) => m.envelopeTo),
          [],
          'no mail anywhere carries the link or the number',
        );
      });
    });
  });
}
