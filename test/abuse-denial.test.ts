/**
 * A stranger who wants to deny the service to one chosen person (issue 9, items 2 and 4), written as
 * the attack from many networks (each client binds its own 127.N.x.x address: its own /24), with the
 * default hourly cap (5 codes) and the cooldown off so that no test waits: what the strangers spend,
 * and what the person still gets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mailboxKey } from '../src/shared/addresses.ts';
import { onNetwork, type Client } from './support/clients.ts';
import { type Answer, type ApiResponse, expectStatus } from './support/api.ts';
import { databaseKinds, randomMobile, startStack, codeIn, outboxDrained, type Stack } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';
import { account, tag } from './support/owners.ts';

const WAIT = { timeoutMs: 15_000 };
const LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_MAX_SENDS_PER_HOUR: '5' };

const byStatus = (answers: ApiResponse[]) =>
  Object.fromEntries(
    [...new Set(answers.map((a) => a.status))].map((s) => [s, answers.filter((a) => a.status === s).length]),
  );

/** Mails the SMTP fixture took for one mailbox, in any spelling. */
const mailsTo = (s: Stack, address: string) =>
  s.smtp.messages.filter((m) => m.envelopeTo.some((to) => mailboxKey(to) === mailboxKey(address)));

/** The long code of a mail (its groups of four), as the owner reads it. */
const longCodeIn = (text: string): string => {
  const match = text.match(/\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b/);
  if (!match) throw new Error(`no long code in: ${text}`);
  return match[0];
};
const wrong = (code: string, k: number) => String((Number(code) + k) % 10 ** code.length).padStart(code.length, '0');

/** Registered through the API from `client` (its network), the email verified with the mailed code, and logged in. */
async function signedUp(s: Stack, client: Client, word: string) {
  const p = {
    email: `${word}.${tag()}@example.test`,
    phone: randomMobile(),
    first_name: 'Thandi',
    last_name: 'Mokoena',
    password: 'correct horse battery',
  };
  assert.equal((await client.api('POST', '/api/v1/auth/register', p)).status, 201);
  const otp = codeIn((await s.smtp.waitFor(p.email, WAIT)).text);
  assert.equal((await client.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp })).status, 200);
  const token = expectStatus(await client.api('POST', '/api/v1/auth/login', p), 200).access_token;
  return { p, token };
}

/** signedUp, then the account's phone verified with its first SMS code. */
async function withVerifiedPhone(s: Stack, client: Client, word: string) {
  const account = await signedUp(s, client, word);
  assert.equal((await client.api('POST', '/api/v1/users/verify-phone', {}, account.token)).status, 200);
  const otp = codeIn((await s.sms.waitFor(account.p.phone, WAIT)).body);
  assert.equal((await client.api('POST', '/api/v1/users/verify-otp', { otp }, account.token)).status, 200);
  return account;
}

const settled = (stack: Stack) => outboxDrained(stack, WAIT.timeoutMs);

for (const db of await databaseKinds()) {
  describe(`a stranger denying one person (${db})`, () => {
    let s: Stack;
    before(async () => {
      s = await startStack({
        db,
        env: { ...LIMITS, RATE_LIMIT_IP_PER_MINUTE: '1000', RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000' },
      });
    });
    after(() => s.close());

    it('asking codes for an address with no account yet, from 6 networks 5 times each, sends nothing and spends nothing of its owner: the owner registers (201) and gets the code', async () => {
      const victim = {
        email: `victim.${tag()}@example.test`,
        phone: randomMobile(),
        first_name: 'Thandi',
        last_name: 'Mokoena',
        password: 'correct horse battery',
      };
      const answers: ApiResponse[] = [];
      for (let n = 0; n < 6; n++) {
        const stranger = onNetwork(s.baseUrl, 10 + n);
        for (let i = 0; i < 5; i++) {
          const path = i % 2 ? '/api/v1/auth/forgot-password' : '/api/v1/auth/resend-verification';
          answers.push(await stranger.api('POST', path, { email: victim.email }));
        }
        // the 6th ask of a network is its own hour spent, and only its own
        answers.push(await stranger.api('POST', '/api/v1/auth/forgot-password', { email: victim.email }));
      }
      assert.deepEqual(byStatus(answers), { 200: 30, 429: 6 });
      const owner = onNetwork(s.baseUrl, 200);
      const reg = await owner.api('POST', '/api/v1/auth/register', victim);
      assert.equal(reg.status, 201, reg.text);
      assert.match(reg.body.message, /code was sent/);
      const mail = await s.smtp.waitFor(victim.email, WAIT);
      assert.equal(mailsTo(s, victim.email).length, 1, "the one mail is the owner's own code");
      const ok = await owner.api('POST', '/api/v1/auth/verify-account', {
        email: victim.email,
        otp: codeIn(mail.text),
      });
      assert.equal(ok.status, 200, ok.text);
    });

    it("asking unlock codes by SMS for a number, from 6 networks, spends nothing of it: its owner's verify-phone answers 200 and the SMS arrives", async () => {
      const owner = onNetwork(s.baseUrl, 201);
      const victim = {
        email: `phone.${tag()}@example.test`,
        phone: randomMobile(),
        first_name: 'Sipho',
        last_name: 'Dube',
        password: 'correct horse battery',
      };
      assert.equal((await owner.api('POST', '/api/v1/auth/register', victim)).status, 201);
      const otp = codeIn((await s.smtp.waitFor(victim.email, WAIT)).text);
      assert.equal((await owner.api('POST', '/api/v1/auth/verify-account', { email: victim.email, otp })).status, 200);
      const answers: ApiResponse[] = [];
      for (let n = 0; n < 6; n++) {
        const stranger = onNetwork(s.baseUrl, 20 + n);
        for (let i = 0; i < 5; i++)
          answers.push(
            await stranger.api('POST', '/api/v1/auth/request-unlock-otp', {
              identifier: victim.phone,
              delivery_method: 'sms',
            }),
          );
      }
      assert.deepEqual(byStatus(answers), { 200: 30 });
      const login = await owner.api('POST', '/api/v1/auth/login', { email: victim.email, password: victim.password });
      assert.equal(login.status, 200, login.text);
      const sent = await owner.api('POST', '/api/v1/users/verify-phone', {}, login.body.access_token);
      assert.equal(sent.status, 200, sent.text);
      await s.sms.waitFor(victim.phone, WAIT);
      await settled(s);
      assert.equal(
        s.sms.messages.filter((m) => m.to === victim.phone).length,
        1,
        "only the owner's own SMS: the unlock asks found no verified phone",
      );
    });

    it('one mailbox, one budget: 14 spellings of one Gmail inbox registered from 3 networks reach it 5 times (the hourly cap), and the 9 others are told to use the newest email', async () => {
      const local = `victim${tag()}`;
      const spellings = [
        `${local}@gmail.com`,
        `${local}+1@gmail.com`,
        `${local.slice(0, 1)}.${local.slice(1)}+2@gmail.com`,
        `${local.toUpperCase()}+x3@gmail.com`,
        `${local}@googlemail.com`,
        `${local}+shop@GMAIL.com`,
        `${local.slice(0, 2)}.${local.slice(2, 4)}.${local.slice(4)}@gmail.com`,
        `${local}+a.b@gmail.com`,
        `${local}++@gmail.com`,
        `${local.slice(0, 3)}.${local.slice(3)}+news@googlemail.com`,
        `${local}+7@gmail.com`,
        `${local}+8@gmail.com`,
        `${local}+9@gmail.com`,
        `${local}+10@gmail.com`,
      ];
      const register = (n: number, email: string) =>
        onNetwork(s.baseUrl, 40 + (n % 3)).api('POST', '/api/v1/auth/register', {
          email,
          phone: randomMobile(),
          first_name: 'Eve',
          last_name: 'Spammer',
          password: 'attacker password',
        });
      const answers: Answer<'POST', '/api/v1/auth/register'>[] = [];
      for (const [n, email] of spellings.entries()) answers.push(await register(n, email));
      assert.deepEqual(
        byStatus(answers),
        { 201: 14 },
        'each registration is saved (5, 5 and 4 asks: each network within its own hour)',
      );
      assert.equal(
        answers.filter((a) => a.status === 201 && /already sent/.test(a.body.message)).length,
        9,
        'the 9 past the cap say no new code was sent',
      );
      await settled(s);
      assert.equal(mailsTo(s, spellings[0]).length, 5, 'mails that reached the one inbox');
      // A 6th spelling from one network is that network's own hour spent: 429, nothing saved.
      const sixth = await register(0, `${local}+11@gmail.com`);
      assert.equal(sixth.status, 429, sixth.text);
    });

    it("past the cap, each network's first code of the hour still goes: 5 +tag registrations of a verified owner's inbox cannot silence the owner's reset (it arrives, its long code works)", async () => {
      const victim = await account(s);
      const stranger = onNetwork(s.baseUrl, 150);
      for (let i = 0; i < 5; i++) {
        const r = await stranger.api('POST', '/api/v1/auth/register', {
          email: victim.email.replace('@', `+t${i}@`),
          phone: randomMobile(),
          first_name: 'Eve',
          last_name: 'Spammer',
          password: 'attacker password',
        });
        assert.equal(r.status, 201, r.text);
      }
      await waitUntil(() => mailsTo(s, victim.email).length >= 5, { ...WAIT, what: "the strangers' 5 mails" });
      const owner = onNetwork(s.baseUrl, 207);
      assert.equal((await owner.api('POST', '/api/v1/auth/forgot-password', { email: victim.email })).status, 200);
      const reset = await waitUntil(
        () => s.smtp.messages.find((m) => m.envelopeTo.includes(victim.email) && /password/i.test(m.subject)),
        { ...WAIT, what: 'the reset mail' },
      );
      const r = await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: longCodeIn(reset.text),
        new_password: 'the owner is back',
      });
      assert.equal(r.status, 200, r.text);
      await settled(s);
      assert.equal(mailsTo(s, victim.email).length, 6, "the strangers' 5 and the owner's reset");
    });

    it("a throwaway account texting a verified number cannot silence its owner's unlock by SMS", async () => {
      const owner = onNetwork(s.baseUrl, 208);
      const { p } = await withVerifiedPhone(s, owner, 'unlock');
      // a stranger's throwaway account asks codes for the owner's number, as often as its network may
      const stranger = onNetwork(s.baseUrl, 151);
      const { token: eve } = await signedUp(s, stranger, 'throwaway');
      const asks: ApiResponse[] = [];
      for (let i = 0; i < 5; i++)
        asks.push(await stranger.api('POST', '/api/v1/users/verify-phone', { phone: p.phone }, eve));
      const texted = asks.filter((a) => a.status === 200).length;
      await waitUntil(() => s.sms.messages.filter((m) => m.to === p.phone).length >= 1 + texted, {
        ...WAIT,
        what: "the stranger's SMS",
      });
      await settled(s);
      const before = s.sms.messages.filter((m) => m.to === p.phone).length;
      assert.equal(
        (await owner.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: p.phone, delivery_method: 'sms' }))
          .status,
        200,
      );
      const unlock = await waitUntil(
        () =>
          s.sms.messages
            .filter((m) => m.to === p.phone)
            .slice(before)
            .find((m) => /unlock/i.test(m.body)),
        { ...WAIT, what: 'the unlock SMS' },
      );
      assert.equal(
        (await owner.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: p.phone, otp: codeIn(unlock.body) }))
          .status,
        200,
      );
    });

    it('a +tag on any domain is the same mailbox: 10 asks in two spellings from 2 networks send it 5 codes in all', async () => {
      const base = `owner.${tag()}@example.test`;
      const owner = onNetwork(s.baseUrl, 202);
      assert.equal(
        (
          await owner.api('POST', '/api/v1/auth/register', {
            email: base,
            phone: randomMobile(),
            first_name: 'Ann',
            last_name: 'Owner',
            password: 'correct horse battery',
          })
        ).status,
        201,
      );
      await s.smtp.waitFor(base, WAIT);
      const answers: ApiResponse[] = [];
      for (let n = 0; n < 10; n++) {
        // the tagged spellings have no account: they send nothing, and spend the same asker's hour
        answers.push(
          await onNetwork(s.baseUrl, 60 + (n % 2)).api('POST', '/api/v1/auth/resend-verification', {
            email: n % 4 < 2 ? base : base.replace('@', `+t${n}@`),
          }),
        );
      }
      assert.deepEqual(byStatus(answers), { 200: 10 });
      await waitUntil(() => mailsTo(s, base).length >= 5, { ...WAIT, what: '5 mails' });
      await settled(s);
      // the registration and 5 resends of the base address asked; the cap let 5 through
      assert.equal(mailsTo(s, base).length, 5);
    });

    it('strangers who make us send code after code (each from a fresh network) never end the long code in the email the owner is reading', async () => {
      const victim = await account(s);
      const owner = onNetwork(s.baseUrl, 209);
      assert.equal((await owner.api('POST', '/api/v1/auth/forgot-password', { email: victim.email })).status, 200);
      const mine = longCodeIn((await s.smtp.waitFor(victim.email, WAIT)).text);
      // 6 strangers, each its own network: each one's first code of the hour goes, replacing the live one
      for (let n = 0; n < 6; n++) {
        assert.equal(
          (await onNetwork(s.baseUrl, 160 + n).api('POST', '/api/v1/auth/forgot-password', { email: victim.email }))
            .status,
          200,
        );
        await s.smtp.waitFor(victim.email, { ...WAIT, count: 2 + n });
      }
      const r = await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: mine,
        new_password: 'the owner is back',
      });
      assert.equal(r.status, 200, r.text);
      // used, the purpose is done: every other long code of it (the strangers' emails) ends too
      const newest = longCodeIn((await s.smtp.waitFor(victim.email, { ...WAIT, count: 7 })).text);
      assert.equal(
        (
          await owner.api('POST', '/api/v1/auth/reset-password', {
            email: victim.email,
            otp: newest,
            new_password: 'again',
          })
        ).status,
        400,
      );
    });

    it("unlocks by SMS that strangers ask for a verified number, from 5 networks, do not spend its account's SMS hour: the owner still verifies a new number", async () => {
      const owner = onNetwork(s.baseUrl, 210);
      const { p, token } = await withVerifiedPhone(s, owner, 'sms');
      for (let n = 0; n < 5; n++) {
        assert.equal(
          (
            await onNetwork(s.baseUrl, 170 + n).api('POST', '/api/v1/auth/request-unlock-otp', {
              identifier: p.phone,
              delivery_method: 'sms',
            })
          ).status,
          200,
        );
      }
      await waitUntil(() => s.sms.messages.filter((m) => m.to === p.phone).length >= 5, {
        ...WAIT,
        what: "the strangers' unlock SMS",
      });
      const lost = randomMobile();
      const sent = await owner.api('POST', '/api/v1/users/verify-phone', { phone: lost, password: p.password }, token);
      assert.equal(sent.status, 200, sent.text);
      await s.sms.waitFor(lost, WAIT);
    });

    it("a stranger's account on the owner's own /24 (a carrier's NAT) asking codes for the owner's number does not spend the owner's verify-phone", async () => {
      const owner = onNetwork(s.baseUrl, 211, 1);
      const neighbour = onNetwork(s.baseUrl, 211, 2);
      const { p, token } = await signedUp(s, owner, 'nat');
      const { token: eveToken } = await signedUp(s, neighbour, 'nat-eve');
      const asks: ApiResponse[] = [];
      for (let i = 0; i < 6; i++)
        asks.push(await neighbour.api('POST', '/api/v1/users/verify-phone', { phone: p.phone }, eveToken));
      assert.equal(asks.at(-1)!.status, 429, "the neighbour's 6th ask is its own hour spent");
      const sent = await owner.api('POST', '/api/v1/users/verify-phone', {}, token);
      assert.equal(sent.status, 200, sent.text);
      const otp = codeIn(
        (await s.sms.waitFor(p.phone, { ...WAIT, count: asks.filter((a) => a.status === 200).length + 1 })).body,
      );
      assert.equal((await owner.api('POST', '/api/v1/users/verify-otp', { otp }, token)).status, 200);
    });

    it("sign-up: strangers spend the guesses of a pending address (4 rounds of 5 wrong codes and a resend, from 8 networks); the owner's fresh short code is refused, its long code verifies the account and sets the password", async () => {
      const owner = onNetwork(s.baseUrl, 203);
      const victim = {
        email: `signup.${tag()}@example.test`,
        phone: randomMobile(),
        first_name: 'Nomsa',
        last_name: 'Khumalo',
        password: 'correct horse battery',
      };
      assert.equal((await owner.api('POST', '/api/v1/auth/register', victim)).status, 201);
      let mails = 1;
      await s.smtp.waitFor(victim.email, { ...WAIT, count: mails });
      const refused: ApiResponse[] = [];
      for (let round = 0; round < 4; round++) {
        const stranger = onNetwork(s.baseUrl, 80 + 2 * round);
        for (let k = 1; k <= 5; k++)
          refused.push(
            await stranger.api('POST', '/api/v1/auth/verify-account', {
              email: victim.email,
              otp: wrong('000000', k + 10 * round),
            }),
          );
        assert.equal(
          (
            await onNetwork(s.baseUrl, 81 + 2 * round).api('POST', '/api/v1/auth/resend-verification', {
              email: victim.email,
            })
          ).status,
          200,
        );
        await s.smtp.waitFor(victim.email, { ...WAIT, count: ++mails });
      }
      assert.deepEqual(byStatus(refused), { 400: 20 });
      const newest = (await s.smtp.waitFor(victim.email, { ...WAIT, count: mails })).text;
      const short = await owner.api('POST', '/api/v1/auth/verify-account', {
        email: victim.email,
        otp: codeIn(newest),
      });
      assert.equal(
        short.status,
        400,
        "the day's guesses are spent: the short code is refused, as the guess bound says",
      );
      const long = await owner.api('POST', '/api/v1/auth/verify-account', {
        email: victim.email,
        otp: longCodeIn(newest),
        password: 'the owner chose this',
      });
      assert.equal(long.status, 200, long.text);
      assert.equal(
        (await owner.api('POST', '/api/v1/auth/login', { email: victim.email, password: 'the owner chose this' }))
          .status,
        200,
      );
      const row = await s.runtime.services.db
        .selectFrom('otp_codes')
        .select(['failures'])
        .where('user_id', '=', long.body.user.id)
        .where('purpose', '=', 'email_verification')
        .executeTakeFirstOrThrow();
      assert.equal(row.failures, 20, 'the guess bound was not loosened');
    });

    it("recovery: strangers spend the reset guesses of a verified account and keep its login throttle armed from 8 networks; the owner's long code resets the password and signs in at once (200, a token pair)", async () => {
      const victim = await account(s);
      const owner = onNetwork(s.baseUrl, 204);
      let mails = 0;
      const refused: ApiResponse[] = [];
      for (let round = 0; round < 4; round++) {
        const stranger = onNetwork(s.baseUrl, 100 + round);
        assert.equal((await stranger.api('POST', '/api/v1/auth/forgot-password', { email: victim.email })).status, 200);
        await s.smtp.waitFor(victim.email, { ...WAIT, count: ++mails });
        for (let k = 1; k <= 5; k++)
          refused.push(
            await stranger.api('POST', '/api/v1/auth/reset-password', {
              email: victim.email,
              otp: wrong('000000', k + 10 * round),
              new_password: 'stranger password',
            }),
          );
      }
      const armThrottle = async () => {
        for (let n = 0; n < 8; n++)
          refused.push(
            await onNetwork(s.baseUrl, 110 + n).api('POST', '/api/v1/auth/login', {
              email: victim.email,
              password: `guess ${n}`,
            }),
          );
      };
      await armThrottle();
      const throttled = await owner.api('POST', '/api/v1/auth/login', {
        email: victim.email,
        password: victim.password,
      });
      assert.equal(throttled.status, 429, 'the strangers armed the throttle');
      assert.equal((await owner.api('POST', '/api/v1/auth/forgot-password', { email: victim.email })).status, 200);
      const newest = (await s.smtp.waitFor(victim.email, { ...WAIT, count: ++mails })).text;
      const short = await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: codeIn(newest),
        new_password: 'the owner is back',
      });
      assert.equal(short.status, 400, "the short code is refused: the day's reset guesses are spent");
      const long = await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: longCodeIn(newest),
        new_password: 'the owner is back',
      });
      assert.equal(long.status, 200, long.text);
      await armThrottle();
      const me = await owner.api('GET', '/api/v1/auth/me', undefined, long.body.access_token);
      assert.equal(me.status, 200, 'signed in by the reset itself, whatever the throttle says now');
      assert.equal(refused.filter((r) => r.status === 200).length, 0, 'nothing the strangers sent got through');
    });

    it("unlock: strangers spend the unlock guesses and re-arm the throttle; the owner's long unlock code with the password signs in at once", async () => {
      const victim = await account(s);
      const owner = onNetwork(s.baseUrl, 205);
      let mails = 0;
      for (let round = 0; round < 4; round++) {
        const stranger = onNetwork(s.baseUrl, 120 + round);
        assert.equal(
          (await stranger.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: victim.email })).status,
          200,
        );
        await s.smtp.waitFor(victim.email, { ...WAIT, count: ++mails });
        for (let k = 1; k <= 5; k++) {
          assert.equal(
            (
              await stranger.api('POST', '/api/v1/auth/verify-unlock-otp', {
                identifier: victim.email,
                otp: wrong('000000', k + 10 * round),
              })
            ).status,
            400,
          );
        }
      }
      for (let n = 0; n < 8; n++)
        await onNetwork(s.baseUrl, 130 + n).api('POST', '/api/v1/auth/login', {
          email: victim.email,
          password: `guess ${n}`,
        });
      assert.equal(
        (await owner.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: victim.email })).status,
        200,
      );
      const newest = (await s.smtp.waitFor(victim.email, { ...WAIT, count: ++mails })).text;
      assert.equal(
        (await owner.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: victim.email, otp: codeIn(newest) }))
          .status,
        400,
        'short code: guesses spent',
      );
      const signedIn = await owner.api('POST', '/api/v1/auth/verify-unlock-otp', {
        identifier: victim.email,
        otp: longCodeIn(newest),
        password: victim.password,
      });
      assert.equal(signedIn.status, 200, signedIn.text);
      assert.equal((await owner.api('GET', '/api/v1/auth/me', undefined, signedIn.body.access_token)).status, 200);
    });

    it('a wrong long code costs nothing: 50 of them from 5 networks leave the short code and the guess budget as they were', async () => {
      const victim = await account(s);
      const owner = onNetwork(s.baseUrl, 206);
      assert.equal((await owner.api('POST', '/api/v1/auth/forgot-password', { email: victim.email })).status, 200);
      const mail = (await s.smtp.waitFor(victim.email, WAIT)).text;
      const long = longCodeIn(mail);
      // the long code with one character changed: as near to it as a forgery gets
      const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
      const forged = (i: number) => {
        const other = ALPHABET[i % 32] === long[15] ? ALPHABET[(i + 1) % 32] : ALPHABET[i % 32];
        return `${long.slice(0, 15)}${other}${long.slice(16)}`;
      };
      const answers: ApiResponse[] = [];
      for (let i = 0; i < 50; i++)
        answers.push(
          await onNetwork(s.baseUrl, 140 + (i % 5)).api('POST', '/api/v1/auth/reset-password', {
            email: victim.email,
            otp: forged(i),
            new_password: 'stranger password',
          }),
        );
      assert.deepEqual(byStatus(answers), { 400: 50 });
      const ok = await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: codeIn(mail),
        new_password: 'the owner is back',
      });
      assert.equal(ok.status, 200, ok.text);
    });
  });
}
