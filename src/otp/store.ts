import { randomInt } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import { PURPOSES, type OtpPurpose } from '../shared/vocabulary.ts';
import { AppError } from '../shared/errors.ts';
import { addSeconds } from '../shared/clock.ts';
import type { Config } from '../config/settings.ts';
import { verifiedEvent } from '../delivery/outbox.ts';
import { generateCode, generateLongCode, hashCode, hashesEqual, normalizeLongCode } from './codes.ts';

export interface OtpRules {
  secret: string;
  length: number;
  ttlSeconds: number;
  maxAttempts: number;
  /** Wrong guesses allowed per (user, purpose) per day, across codes. */
  maxFailuresPerDay: number;
}

export const otpRules = (config: Config): OtpRules => ({
  secret: config.OTP_SECRET,
  length: config.OTP_LENGTH,
  ttlSeconds: config.OTP_TTL_SECONDS,
  maxAttempts: config.OTP_MAX_ATTEMPTS,
  maxFailuresPerDay: config.OTP_MAX_FAILURES_PER_DAY,
});

/**
 * How long a long code lives: the hour of the send caps at least, so that while a destination may be
 * sent nothing new, the newest message already there still carries a code that works.
 */
const longCodeTtlSeconds = (rules: OtpRules): number => Math.max(rules.ttlSeconds, 3600);

/** The long code's HMAC: bound like the short one, and never equal to it. */
const hashLong = (rules: OtpRules, purpose: OtpPurpose, destination: string, long: string) =>
  hashCode(rules.secret, purpose, destination, `long:${long}`);

export interface IssuedCode {
  /** The code's row: a new id for each code, so a message of the code it replaced knows it is stale. */
  id: string;
  code: string;
  expiresAt: Date;
  /** Its long twin, when asked for (codes sent by email). */
  longCode?: string;
}

/**
 * Creates the one live code for (user, purpose); any earlier code for it dies, but not the earlier
 * long codes: each lives its hour, so a stranger who makes us send code after code never ends the
 * one in the email its owner is reading. Call inside the enqueue transaction.
 */
export async function issueCode(
  trx: Transaction<Database>,
  rules: OtpRules,
  input: {
    userId: string;
    purpose: OtpPurpose;
    destination: string;
    now: Date;
    /** A test destination's fixed code; unset: a new one. */
    code?: string;
    long?: boolean;
    /** Seals the code for its row, for the road to send it again on another channel (phone codes). */
    keep?: (code: string) => string;
  },
): Promise<IssuedCode> {
  const code = input.code ?? generateCode(rules.length);
  const expiresAt = addSeconds(input.now, rules.ttlSeconds);
  const longCode = input.long ? generateLongCode() : undefined;
  const row = {
    destination: input.destination,
    code_hash: hashCode(rules.secret, input.purpose, input.destination, code),
    attempts: 0,
    expires_at: expiresAt,
    consumed_at: null,
    created_at: input.now,
    sealed_code: input.keep?.(code) ?? null,
  };
  const { id } = await trx
    .insertInto('otp_codes')
    .values({ user_id: input.userId, purpose: input.purpose, ...row })
    .onConflict((oc) => oc.columns(['user_id', 'purpose']).doUpdateSet({ ...row, id: sql<string>`gen_random_uuid()` }))
    .returning('id')
    .executeTakeFirstOrThrow();
  if (longCode) {
    await trx
      .insertInto('otp_long_codes')
      .values({
        user_id: input.userId,
        purpose: input.purpose,
        destination: input.destination,
        long_hash: hashLong(rules, input.purpose, input.destination, normalizeLongCode(longCode)!),
        expires_at: addSeconds(input.now, longCodeTtlSeconds(rules)),
        created_at: input.now,
      })
      .execute();
  }
  return { id, code, expiresAt, longCode };
}

/** otp_invalid; without `revealState`, the one answer for every refusal (consumeCode says why). */
export const codeNotValid = (revealState: boolean): AppError =>
  new AppError(
    'otp_invalid',
    revealState
      ? 'The code is not valid. Check it, or ask for a new one.'
      : 'The code is not valid. It may be wrong, used, expired or tried too often: check it, or ask for a new one.',
  );

/**
 * Checks a submitted code and consumes it. The attempt is counted by one conditional UPDATE, so
 * concurrent guesses can never exceed maxAttempts (nor the daily failure budget); consumption is a
 * second conditional UPDATE, so two concurrent correct submissions succeed once. The claim counts a
 * failure in advance and a right code gives it back, which keeps the budget exact under concurrency.
 *
 * Answers the code's destination, and its otp_codes row when the short code was used (a long code's is not read).
 *
 * `revealState`: say why a code is refused (expired, tried too often). Only for a caller who proved
 * who they are; anyone else gets otp_invalid for every refusal, since a known address's code state
 * is exactly what an unknown address cannot imitate.
 */
export async function consumeCode(
  db: Kysely<Database>,
  rules: OtpRules,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date; revealState: boolean },
): Promise<{ destination: string; codeId?: string }> {
  const invalid = () => codeNotValid(input.revealState);
  const long = normalizeLongCode(input.code);
  if (long) return consumeLongCode(db, rules, { ...input, long }, invalid);
  // An unknown address costs the same claim as a known one (matching no row), so the answer takes as long.
  const userId = input.userId ?? NOBODY;
  const dayAgo = sql<Date>`${input.now}::timestamptz - ${GUESS_WINDOW_MS} * interval '1 millisecond'`;
  const windowOver = sql<boolean>`(failures_since IS NULL OR failures_since <= ${dayAgo})`;
  // The wrong guesses of this day at the account's other doors, counted with this code's own.
  const others = sharingGuesses(input.purpose);
  const othersFailures = others.length
    ? sql<number>`(SELECT coalesce(sum(o.failures), 0) FROM otp_codes o
        WHERE o.user_id = ${userId} AND o.purpose IN (${sql.join(others)}) AND o.failures_since > ${dayAgo})`
    : sql<number>`0`;
  // One statement: the claim, or, when it claims no code, the decoy's write in its place (claimDecoy).
  const { rows } = await sql<{ id: string; code_hash: string; destination: string }>`
    WITH claimed AS (
      UPDATE otp_codes SET
        attempts = attempts + 1,
        failures = CASE WHEN ${windowOver} THEN 1 ELSE failures + 1 END,
        failures_since = CASE WHEN ${windowOver} THEN ${input.now}::timestamptz ELSE failures_since END
      WHERE user_id = ${userId} AND purpose = ${input.purpose} AND consumed_at IS NULL AND expires_at > ${input.now}
        AND attempts < ${rules.maxAttempts}
        AND (CASE WHEN ${windowOver} THEN 0 ELSE failures END) + ${othersFailures} < ${rules.maxFailuresPerDay}
      RETURNING id, code_hash, destination
    ), decoy AS (${claimDecoy(sql`NOT EXISTS (SELECT 1 FROM claimed)`)})
    SELECT id, code_hash, destination FROM claimed`.execute(db);
  const claimed = rows[0];
  if (!claimed) {
    throw input.revealState && input.userId
      ? await whyRefused(db, rules, input.userId, input.purpose, input.now, invalid)
      : invalid();
  }

  const submitted = hashCode(rules.secret, input.purpose, claimed.destination, input.code);
  if (!hashesEqual(submitted, claimed.code_hash)) throw invalid();
  // The use and its event on the message that carried the code, in one statement.
  const { rows: consumed } = await sql<{ id: string }>`
    WITH consumed AS (
      UPDATE otp_codes SET consumed_at = ${input.now}, sealed_code = NULL, failures = failures - 1
      WHERE id = ${claimed.id} AND consumed_at IS NULL AND code_hash = ${claimed.code_hash}
      RETURNING id
    ), verified AS (${verifiedEvent(sql`code_id IN (SELECT id FROM consumed)`, input.now)})
    SELECT id FROM consumed`.execute(db);
  if (!consumed.length) throw invalid();
  // the purpose is done: the long codes of its earlier emails end with it
  await db.deleteFrom('otp_long_codes').where('user_id', '=', userId).where('purpose', '=', input.purpose).execute();
  return { destination: claimed.destination, codeId: claimed.id };
}

/**
 * The purposes whose wrong guesses count together with `purpose`'s: every code that alone opens the
 * account (a sign-in code, a reset code) is one more door, and a budget per door gave a stranger
 * OTP_MAX_FAILURES_PER_DAY guesses a day at each (40 with two). Two claims at two doors at the same
 * moment may each see the other's count from before it: the sum overshoots by at most those in flight.
 */
const sharingGuesses = (purpose: OtpPurpose): OtpPurpose[] =>
  PURPOSES[purpose].signsIn
    ? (Object.keys(PURPOSES) as OtpPurpose[]).filter((p) => p !== purpose && PURPOSES[p].signsIn)
    : [];

/** How long wrong guesses count against (user, purpose): a day (OTP_MAX_FAILURES_PER_DAY). */
const GUESS_WINDOW_MS = 86_400_000;

/** No account's id: what an unknown address's claim looks for. */
const NOBODY = '00000000-0000-0000-0000-000000000000';
const DECOY_SLOTS = 64;

/**
 * The write a claim of a live code takes, for a check that claims no code (an unknown address; a used,
 * expired or spent code), when `when` holds: without it an unknown address's refusal was the faster by
 * the row written (2.6 against 7.8 ms on PGlite), which told a stranger the address has an account. In
 * the claim's own statement, since a second statement cost more than the row (the unknown address was
 * then the slower); on one of a few rows, so that a flood of them does not queue on one lock.
 */
const claimDecoy = (when: RawBuilder<boolean>) => sql`
  INSERT INTO claim_decoys (slot, claims) SELECT ${randomInt(DECOY_SLOTS)}, 1 WHERE ${when}
  ON CONFLICT (slot) DO UPDATE SET claims = claim_decoys.claims + 1`;

/**
 * A long code: compared by its HMAC with every live one of (user, purpose), and when one is right the
 * purpose is done: that long code, the others and the short code end. A wrong one counts nothing
 * (80 bits are not guessed), and neither the short code's tries nor the daily guess budget stop it:
 * those are what strangers can spend, and this is the owner's road past them.
 */
async function consumeLongCode(
  db: Kysely<Database>,
  rules: OtpRules,
  input: { userId: string | undefined; purpose: OtpPurpose; long: string; now: Date },
  invalid: () => AppError,
): Promise<{ destination: string }> {
  const live = await db
    .selectFrom('otp_long_codes')
    .select(['id', 'destination', 'long_hash', 'created_at'])
    .where('user_id', '=', input.userId ?? NOBODY)
    .where('purpose', '=', input.purpose)
    .where('expires_at', '>', input.now)
    .execute();
  // Each compared, in constant time: which one matched is not told by when the answer comes.
  const matched = live
    .filter((row) => hashesEqual(hashLong(rules, input.purpose, row.destination, input.long), row.long_hash))
    .at(0);
  if (!matched) throw invalid();
  return db.transaction().execute(async (trx) => {
    // Taken once: of two right submissions at once, one deletes it and the other finds it gone.
    const taken = await trx
      .deleteFrom('otp_long_codes')
      .where('id', '=', matched.id)
      .returning('id')
      .executeTakeFirst();
    if (!taken) throw invalid();
    await trx
      .deleteFrom('otp_long_codes')
      .where('user_id', '=', input.userId!)
      .where('purpose', '=', input.purpose)
      .execute();
    await trx
      .updateTable('otp_codes')
      .set({ consumed_at: input.now, sealed_code: null })
      .where('user_id', '=', input.userId!)
      .where('purpose', '=', input.purpose)
      .where('consumed_at', 'is', null)
      .execute();
    // the email that carried this long code was queued with it, at the same instant
    await verifiedEvent(
      sql`lower(recipient) = ${matched.destination.toLowerCase()} AND created_at = ${matched.created_at} AND purpose = ${input.purpose} AND channel = 'email'`,
      input.now,
    ).execute(trx);
    return { destination: matched.destination };
  });
}

async function whyRefused(
  db: Kysely<Database>,
  rules: OtpRules,
  userId: string,
  purpose: OtpPurpose,
  now: Date,
  invalid: () => AppError,
): Promise<AppError> {
  const row = await db
    .selectFrom('otp_codes')
    .select(['attempts', 'expires_at', 'consumed_at', 'failures', 'failures_since'])
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  if (!row || row.consumed_at) return invalid();
  const budgetResets = row.failures_since ? row.failures_since.getTime() + GUESS_WINDOW_MS : 0;
  if (row.failures >= rules.maxFailuresPerDay && budgetResets > now.getTime()) {
    return new AppError(
      'otp_attempts_exceeded',
      `Too many wrong codes in the last day: codes for this are refused until ${new Date(budgetResets).toISOString()}.`,
      Math.ceil((budgetResets - now.getTime()) / 1000),
    );
  }
  if (row.attempts >= rules.maxAttempts) {
    return new AppError('otp_attempts_exceeded', 'Too many wrong tries: this code no longer works. Ask for a new one.');
  }
  if (row.expires_at <= now) return new AppError('otp_expired', 'This code has expired. Ask for a new one.');
  return invalid();
}
