import type { Kysely, Transaction } from 'kysely';
import type { Database, OtpPurpose } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { addSeconds } from '../clock.ts';
import { generateCode, hashCode, hashesEqual } from './codes.ts';

export interface OtpRules {
  secret: string;
  length: number;
  ttlSeconds: number;
  maxAttempts: number;
}

export interface IssuedCode {
  code: string;
  expiresAt: Date;
}

/** Creates the one live code for (user, purpose); any earlier code for it dies. Call inside the enqueue transaction. */
export async function issueCode(
  trx: Transaction<Database>,
  rules: OtpRules,
  input: { userId: string; purpose: OtpPurpose; destination: string; now: Date },
): Promise<IssuedCode> {
  const code = generateCode(rules.length);
  const expiresAt = addSeconds(input.now, rules.ttlSeconds);
  const row = {
    destination: input.destination,
    code_hash: hashCode(rules.secret, input.purpose, input.destination, code),
    attempts: 0,
    expires_at: expiresAt,
    consumed_at: null,
    created_at: input.now,
  };
  await trx
    .insertInto('otp_codes')
    .values({ user_id: input.userId, purpose: input.purpose, ...row })
    .onConflict((oc) => oc.columns(['user_id', 'purpose']).doUpdateSet(row))
    .execute();
  return { code, expiresAt };
}

/**
 * Checks a submitted code and consumes it. The attempt is counted by one conditional UPDATE, so
 * concurrent guesses can never exceed maxAttempts; consumption is a second conditional UPDATE, so
 * two concurrent correct submissions succeed once. Returns the destination the code was sent to.
 */
export async function consumeCode(
  db: Kysely<Database>,
  rules: OtpRules,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date },
): Promise<{ destination: string }> {
  const invalid = () => new AppError('otp_invalid', 'The code is not valid. Check it, or ask for a new one.');
  if (!input.userId) throw invalid();
  const claimed = await db
    .updateTable('otp_codes')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('user_id', '=', input.userId)
    .where('purpose', '=', input.purpose)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', input.now)
    .where('attempts', '<', rules.maxAttempts)
    .returning(['id', 'code_hash', 'destination'])
    .executeTakeFirst();
  if (!claimed) throw await whyRefused(db, rules, input.userId, input.purpose, input.now, invalid);

  const submitted = hashCode(rules.secret, input.purpose, claimed.destination, input.code);
  if (!hashesEqual(submitted, claimed.code_hash)) throw invalid();
  const consumed = await db
    .updateTable('otp_codes')
    .set({ consumed_at: input.now })
    .where('id', '=', claimed.id)
    .where('consumed_at', 'is', null)
    .where('code_hash', '=', claimed.code_hash)
    .returning('id')
    .executeTakeFirst();
  if (!consumed) throw invalid();
  return { destination: claimed.destination };
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
    .select(['attempts', 'expires_at', 'consumed_at'])
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  if (!row || row.consumed_at) return invalid();
  if (row.attempts >= rules.maxAttempts) {
    return new AppError('otp_attempts_exceeded', 'Too many wrong tries: this code no longer works. Ask for a new one.');
  }
  if (row.expires_at <= now) return new AppError('otp_expired', 'This code has expired. Ask for a new one.');
  return invalid();
}
