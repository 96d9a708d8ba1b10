import { randomBytes, randomInt } from 'node:crypto';
import type { Db } from '../../src/platform/db/client.ts';
import type { Passwords } from '../../src/platform/passwords.ts';
import { onNetwork, type Client } from './clients.ts';
import type { TwilioFixture } from './sms.ts';

/**
 * The attack of issue 18 (1), "SMS off for everyone": cheap accounts from many networks ask
 * verify-phone for their number and three new ones until the SMS brake engages; then a person outside
 * the attack asks for their code, and an account with a verified phone for its unlock code. Shared
 * by test/abuse-sms-brake.test.ts (scaled down by settings) and bench/abuse-brake.ts.
 */
export interface BrakeTarget {
  baseUrl: string;
  /** Where the attacker's accounts are made (verified, with a password), as a catch-all domain makes them cheap. */
  db: Db;
  passwords: Passwords;
  /** The provider's side: the SMS that reached it. */
  sms: TwilioFixture;
}

export interface BrakeAttackOptions {
  /** Accounts of the first wave: every number in two ranges (+27 8212…, +27 8213…), enough to pass the ceiling. */
  concentrated: number;
  /** Networks the attacker asks from (each its own /24); the second wave, numbers each in its own range, has one account per network. */
  networks: number;
  /** The longest wait for one SMS to reach the provider. */
  timeoutMs?: number;
}

export interface Wave {
  asks: number;
  /** SMS that reached the provider for this wave's numbers. */
  sms: number;
  /** Answers by status. */
  answers: Record<number, number>;
}

export interface BrakeAttackResult {
  /** Numbers in two ranges: the ceiling fills, then the ranges' codes are never verified. */
  concentrated: Wave;
  /** Then every number in a range of its own, from every network. */
  spread: Wave;
  /** A new person on a network of their own, a number in +27 72…: verify-phone's status, and whether the SMS came. */
  newPerson: { status: number; retryAfter: string | null; sms: boolean };
  /** An account whose phone (in the attacked range +27 8212…) is verified: unlock by SMS. */
  unlock: { status: number; sms: boolean };
  /** The same account asks verify-phone for its own verified number, from one of the attacker's networks. */
  provenResend: { status: number; sms: boolean };
}

const PASSWORD = 'attacker horse battery';
const LOGINS_AT_ONCE = 4;
const digits = (n: number) => String(randomInt(10 ** n)).padStart(n, '0');
/** The i-th number of +27 8212… and +27 8213…, two ranges of 100 000, taken in turn (each number once: a number asked twice meets its own cooldown). */
const concentratedNumber = (i: number) => `+278${212 + (i % 2)}${String(Math.floor(i / 2)).padStart(5, '0')}`;
/** A number in a range of its own for each i below 700: +27 83 00… to +27 89 99…. */
const spreadNumber = (i: number) => `+278${3 + Math.floor(i / 100)}${String(i % 100).padStart(2, '0')}${digits(5)}`;

export async function runBrakeAttack(target: BrakeTarget, opts: BrakeAttackOptions): Promise<BrakeAttackResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const tag = randomBytes(4).toString('hex');
  const hash = await target.passwords.hash(PASSWORD);
  let made = 0;
  /** Accounts made straight in the database (verified email, a password) and logged in through the API from their network. */
  async function account(client: Client, phone: string, phoneVerified = false) {
    const email = `brake-${tag}-${made++}@catch-all.example`;
    const now = new Date();
    await target.db
      .insertInto('users')
      .values({
        email,
        phone,
        first_name: 'Eve',
        last_name: 'Attacker',
        password_hash: hash,
        email_verified_at: now,
        phone_verified_at: phoneVerified ? now : null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const login = await client.api('POST', '/api/v1/auth/login', { email, password: PASSWORD });
    if (login.status !== 200) throw new Error(`login failed: ${login.text}`);
    return { client, phone, token: login.body.access_token as string };
  }
  const sent = (phone: string) => target.sms.messages.filter((m) => m.to === phone).length;
  /** Asks verify-phone; a 200 waits for its SMS, since a newer code of the account replaces one not yet sent. */
  async function ask(a: { client: Client; token: string }, phone: string | undefined, to: string, wave: Wave) {
    const before = sent(to);
    const r = await a.client.api('POST', '/api/v1/users/verify-phone', phone ? { phone } : {}, a.token);
    wave.asks += 1;
    wave.answers[r.status] = (wave.answers[r.status] ?? 0) + 1;
    if (r.status === 200) await target.sms.waitFor(to, { timeoutMs, count: before + 1 });
    return r;
  }
  /** Each account asks for its own number, then three new ones: the most the per-account budgets allow. */
  async function wave(numberAt: (i: number) => string, accounts: number): Promise<Wave> {
    const w: Wave = { asks: 0, sms: 0, answers: {} };
    // Account k on network k mod networks (up to 254 accounts a network), logged in LOGINS_AT_ONCE at a time (past the hash gate's queue a login answers 503).
    const made: { a: Awaited<ReturnType<typeof account>>; n: number; numbers: string[] }[] = [];
    for (let first = 0; first < accounts; first += LOGINS_AT_ONCE) {
      const batch = Array.from({ length: Math.min(LOGINS_AT_ONCE, accounts - first) }, async (_, i) => {
        const k = first + i;
        const numbers = [0, 1, 2, 3].map((j) => numberAt(4 * k + j));
        const n = k % opts.networks;
        // each account from its own address in its network: the per-IP budgets are not what is measured here
        return {
          a: await account(onNetwork(target.baseUrl, n, 1 + Math.floor(k / opts.networks)), numbers[0]),
          n,
          numbers,
        };
      });
      made.push(...(await Promise.all(batch)));
    }
    // Networks in parallel, each network's accounts one after another, as many clients would.
    await Promise.all(
      Array.from({ length: opts.networks }, async (_, n) => {
        for (const { a, numbers } of made.filter((m) => m.n === n)) {
          await ask(a, undefined, numbers[0], w);
          for (const phone of numbers.slice(1)) await ask(a, phone, phone, w);
        }
      }),
    );
    const phones = made.flatMap((m) => m.numbers);
    w.sms = target.sms.messages.filter((m) => phones.includes(m.to)).length;
    return w;
  }

  const concentrated = await wave(concentratedNumber, opts.concentrated);
  const spread = await wave(spreadNumber, opts.networks);

  // Outside the attack: networks it never used.
  const outside = (k: number) => onNetwork(target.baseUrl, opts.networks + 10 + k);
  const personPhone = `+2772${digits(7)}`;
  const person = await account(outside(0), personPhone);
  const asked = await person.client.api('POST', '/api/v1/users/verify-phone', {}, person.token);
  const personSms = asked.status === 200 && (await arrives(target.sms, personPhone, timeoutMs));

  const verifiedPhone = concentratedNumber(199_998); // +27 8212 99999, in an attacked range
  const owner = await account(outside(1), verifiedPhone, true);
  const unlock = await outside(2).api('POST', '/api/v1/auth/request-unlock-otp', {
    identifier: verifiedPhone,
    delivery_method: 'sms',
  });
  const unlockSms = unlock.status === 200 && (await arrives(target.sms, verifiedPhone, timeoutMs));
  const resend = await onNetwork(target.baseUrl, 0).api('POST', '/api/v1/users/verify-phone', {}, owner.token);
  const resendSms = resend.status === 200 && (await arrives(target.sms, verifiedPhone, timeoutMs, unlockSms ? 2 : 1));

  return {
    concentrated,
    spread,
    newPerson: { status: asked.status, retryAfter: asked.headers.get('retry-after'), sms: personSms },
    unlock: { status: unlock.status, sms: unlockSms },
    provenResend: { status: resend.status, sms: resendSms },
  };
}

async function arrives(sms: TwilioFixture, to: string, timeoutMs: number, count = 1): Promise<boolean> {
  return sms.waitFor(to, { timeoutMs, count }).then(
    () => true,
    () => false,
  );
}

/** "40×200, 20×503". */
export const statuses = (answers: Record<number, number>) =>
  Object.entries(answers)
    .map(([status, n]) => `${n}×${status}`)
    .join(', ');
