/**
 * Issue 18, items (2)–(5) and the verify-account stopwatch: a stranger denying one chosen person,
 * against a running service with the default hourly cap (5 codes) and the resend cooldown off (the
 * issue's attacks waited out the cooldown; here nobody waits). Every client is told apart by its own
 * loopback address (127.1.n.h, network n), as a botnet's would be. Only HTTP: the same file measures
 * a build from before the fix.
 */
import { randomBytes } from 'node:crypto';
import { clientFrom, onNetwork, type Client } from '../test/support/clients.ts';
import type { SmtpFixture } from '../test/support/smtp.ts';
import type { TwilioFixture } from '../test/support/sms.ts';

export interface DenialTarget {
  baseUrl: string;
  smtp: SmtpFixture;
  sms: TwilioFixture;
}

const PASSWORD = 'correct horse battery';
const tag = () => randomBytes(4).toString('hex');
const mobile = () => `+2782${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
/** One inbox's key, written out here so that a build from before the fix is measured the same way. */
const inbox = (a: string) => {
  const [local, domain] = a.toLowerCase().split('@');
  const bare = local.split('+')[0];
  return domain === 'gmail.com' || domain === 'googlemail.com'
    ? `${bare.replace(/\./g, '')}@gmail.com`
    : `${bare}@${domain}`;
};
const wrong = (k: number) => String(100_000 + k);
const codeOf = (text: string) => text.match(/\b(\d{4,10})\b/)?.[1] ?? '000000';
const longOf = (text: string) => text.match(/\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b/)?.[0];
const count = (statuses: number[]) =>
  [...new Set(statuses)]
    .sort()
    .map((s) => `${statuses.filter((x) => x === s).length}×${s}`)
    .join(', ');

export async function denialAttacks(t: DenialTarget): Promise<string[]> {
  const lines: string[] = [];
  let net = 300;
  const stranger = () => onNetwork(t.baseUrl, net++);
  const mailsTo = (a: string) => t.smtp.messages.filter((m) => m.envelopeTo.some((to) => inbox(to) === inbox(a)));
  const newestMail = async (a: string, n: number) => (await t.smtp.waitFor(a, { count: n, timeoutMs: 15_000 })).text;
  const person = () => ({
    email: `p.${tag()}@example.test`,
    phone: mobile(),
    first_name: 'Thandi',
    last_name: 'Mokoena',
    password: PASSWORD,
  });

  /** Registered and verified through the API from the owner's own network, and logged in. */
  async function verified(owner: Client) {
    const p = person();
    await owner.api('POST', '/api/v1/auth/register', p);
    await owner.api('POST', '/api/v1/auth/verify-account', {
      email: p.email,
      otp: codeOf(await newestMail(p.email, 1)),
    });
    const login = await owner.api('POST', '/api/v1/auth/login', { email: p.email, password: PASSWORD });
    return { ...p, token: login.status === 200 ? login.body.access_token : '' };
  }

  // (2) asked for, never sent
  {
    const victim = person();
    const asks: number[] = [];
    for (let n = 0; n < 6; n++) {
      const s = stranger();
      for (let i = 0; i < 5; i++)
        asks.push(
          (
            await s.api('POST', i % 2 ? '/api/v1/auth/forgot-password' : '/api/v1/auth/resend-verification', {
              email: victim.email,
            })
          ).status,
        );
    }
    const reg = await stranger().api('POST', '/api/v1/auth/register', victim);
    const got = await t.smtp.waitFor(victim.email, { timeoutMs: 3000 }).then(
      () => 'its code arrived',
      () => 'no mail',
    );
    lines.push(
      `(2) 30 forgot/resend asks from 6 networks for an address with no account (answers: ${count(asks)}): the owner's register ${reg.status}, ${got}`,
    );

    const owner = stranger();
    const p = person();
    await owner.api('POST', '/api/v1/auth/register', p);
    await owner.api('POST', '/api/v1/auth/verify-account', {
      email: p.email,
      otp: codeOf(await newestMail(p.email, 1)),
    });
    const unlocks: number[] = [];
    for (let n = 0; n < 6; n++) {
      const s = stranger();
      for (let i = 0; i < 5; i++)
        unlocks.push(
          (await s.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: p.phone, delivery_method: 'sms' }))
            .status,
        );
    }
    const login = await owner.api('POST', '/api/v1/auth/login', { email: p.email, password: PASSWORD });
    const token = login.status === 200 ? login.body.access_token : undefined;
    const phone = await owner.api('POST', '/api/v1/users/verify-phone', {}, token);
    const sms = await t.sms.waitFor(p.phone, { timeoutMs: 3000 }).then(
      () => 'the SMS arrived',
      () => 'no SMS',
    );
    lines.push(
      `(2) 30 unlock-by-SMS asks from 6 networks for a number: its owner's verify-phone ${phone.status}, ${sms}`,
    );
  }

  // (3) the guesses of a pending address spent, then the owner's fresh code
  {
    const owner = stranger();
    const p = person();
    await owner.api('POST', '/api/v1/auth/register', p);
    let mails = 1;
    await newestMail(p.email, mails);
    for (let round = 0; round < 4; round++) {
      const s = stranger();
      for (let k = 0; k < 5; k++)
        await s.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: wrong(10 * round + k) });
      await stranger().api('POST', '/api/v1/auth/resend-verification', { email: p.email });
      await newestMail(p.email, ++mails);
    }
    const text = await newestMail(p.email, mails);
    const short = await owner.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: codeOf(text) });
    const long = longOf(text);
    const longAnswer = long
      ? (await owner.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: long })).status
      : 'none in the mail';
    lines.push(
      `(3) sign-up, 4 rounds of 5 wrong codes and a resend from 8 networks: the owner's fresh code ${short.status}, its long code ${longAnswer}`,
    );
  }

  // (3) the reset guesses spent and the login throttle kept armed, then the owner
  {
    const owner = stranger();
    const p = await verified(owner);
    let mails = 1;
    for (let round = 0; round < 4; round++) {
      const s = stranger();
      await s.api('POST', '/api/v1/auth/forgot-password', { email: p.email });
      await newestMail(p.email, ++mails);
      for (let k = 0; k < 5; k++)
        await s.api('POST', '/api/v1/auth/reset-password', {
          email: p.email,
          otp: wrong(10 * round + k),
          new_password: 'stranger password',
        });
    }
    const arm = async () => {
      for (let n = 0; n < 8; n++)
        await stranger().api('POST', '/api/v1/auth/login', { email: p.email, password: `guess ${n}` });
    };
    await arm();
    const login = await owner.api('POST', '/api/v1/auth/login', { email: p.email, password: PASSWORD });
    // The mailbox had its 5 codes this hour (the registration's and the strangers' 4): the owner's ask
    // sends nothing new, and the newest mail there is what they hold.
    await owner.api('POST', '/api/v1/auth/forgot-password', { email: p.email });
    await new Promise((r) => setTimeout(r, 1000));
    const text = mailsTo(p.email).at(-1)!.text;
    const short = await owner.api('POST', '/api/v1/auth/reset-password', {
      email: p.email,
      otp: codeOf(text),
      new_password: 'the owner is back',
    });
    const long = longOf(text);
    const reset = long
      ? await owner.api('POST', '/api/v1/auth/reset-password', {
          email: p.email,
          otp: long,
          new_password: 'the owner is back',
        })
      : undefined;
    await arm();
    const me =
      reset?.status === 200 && reset.body.access_token
        ? (await owner.api('GET', '/api/v1/auth/me', undefined, reset.body.access_token)).status
        : 'no token';
    const after = await owner.api('POST', '/api/v1/auth/login', { email: p.email, password: 'the owner is back' });
    lines.push(
      `(3) recovery, 4 rounds of (a reset code, 5 wrong tries) and the throttle armed from 16 networks: password ${login.status}, the newest reset code ${short.status}, ` +
        `long code ${reset?.status ?? 'none in the mail'}, signed in by it (/me) ${me}, password login after ${after.status}`,
    );
  }

  // (4) one inbox, many spellings: from one network (the attack), then from one network each
  for (const networks of [1, 14]) {
    const local = `victim${tag()}`;
    const spellings = Array.from({ length: 14 }, (_, i) =>
      i === 0
        ? `${local}@gmail.com`
        : i % 3 === 0
          ? `${local.slice(0, 1)}.${local.slice(1)}+${i}@gmail.com`
          : i % 3 === 1
            ? `${local.toUpperCase()}+x${i}@googlemail.com`
            : `${local}+${i}@gmail.com`,
    );
    const clients = Array.from({ length: networks }, () => stranger());
    const started = performance.now();
    const answers: number[] = [];
    for (const [i, email] of spellings.entries())
      answers.push((await clients[i % networks].api('POST', '/api/v1/auth/register', { ...person(), email })).status);
    await new Promise((r) => setTimeout(r, 2000));
    lines.push(
      `(4) 14 spellings of one Gmail inbox registered from ${networks} network${networks > 1 ? 's' : ''} in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
        `(answers: ${count(answers)}): ${mailsTo(spellings[0]).length} mails reached it`,
    );
  }

  // (5) which numbers have accounts
  {
    const a = await verified(stranger());
    const aPhone = await clientFrom(t.baseUrl, '127.9.9.9').api('POST', '/api/v1/users/verify-phone', {}, a.token);
    if (aPhone.status === 200)
      await clientFrom(t.baseUrl, '127.9.9.9').api(
        'POST',
        '/api/v1/users/verify-otp',
        { otp: codeOf((await t.sms.waitFor(a.phone, { timeoutMs: 15_000 })).body) },
        a.token,
      );
    const b = await verified(stranger());
    const spellings = [a.phone, `0${a.phone.slice(3)}`, a.phone.replace(/^\+27/, '0027')];
    const taken = [];
    for (const phone of spellings)
      taken.push((await stranger().api('POST', '/api/v1/users/verify-phone', { phone }, b.token)).status);
    const free = (await stranger().api('POST', '/api/v1/users/verify-phone', { phone: mobile() }, b.token)).status;
    lines.push(
      `(5) a throwaway account asks verify-phone for a number verified elsewhere, 3 spellings: ${count(taken)}; for a free number: ${free}`,
    );
  }

  lines.push(await verifyAccountStopwatch(t, stranger()));
  return lines;
}

/** (7) verify-account's answer to a wrong code: medians of 50 for an unknown, a pending (its code live) and a verified address. */
async function verifyAccountStopwatch(t: DenialTarget, client: Client): Promise<string> {
  const pendings: string[] = [];
  for (let i = 0; i < 50; i++) {
    const p = {
      email: `vt.${tag()}@example.test`,
      phone: mobile(),
      first_name: 'Vee',
      last_name: 'Tee',
      password: PASSWORD,
    };
    await client.api('POST', '/api/v1/auth/register', p);
    pendings.push(p.email);
  }
  const v = {
    email: `vt.${tag()}@example.test`,
    phone: mobile(),
    first_name: 'Vee',
    last_name: 'Tee',
    password: PASSWORD,
  };
  await client.api('POST', '/api/v1/auth/register', v);
  await client.api('POST', '/api/v1/auth/verify-account', {
    email: v.email,
    otp: codeOf((await t.smtp.waitFor(v.email, { timeoutMs: 15_000 })).text),
  });
  const took: Record<string, number[]> = { unknown: [], pending: [], verified: [] };
  for (let i = 0; i < 50; i++) {
    for (const kind of ['unknown', 'pending', 'verified']) {
      const email = kind === 'unknown' ? `ghost.${tag()}@example.test` : kind === 'pending' ? pendings[i] : v.email;
      const started = performance.now();
      await client.api('POST', '/api/v1/auth/verify-account', { email, otp: '000000' });
      took[kind].push(performance.now() - started);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[25].toFixed(2);
  return `(7) verify-account, a wrong code, medians of 50: unknown ${median(took.unknown)} ms, pending ${median(took.pending)} ms, verified ${median(took.verified)} ms`;
}
