import type { FlowContext } from '../otp/context.ts';
import { codeExpiry, issueAndQueue, sendCode, type CodeSent } from '../otp/send-code.ts';
import { checkCode } from '../otp/check-code.ts';
import { notifyEnqueued } from '../delivery/outbox.ts';
import { AppError } from '../errors.ts';
import { hashPassword } from './passwords.ts';
import { normalizeEmail, normalizePhone } from './phone.ts';
import { findUserByEmail, isUniqueViolation, toPublicUser, type PublicUser } from './users.ts';

export interface RegisterInput {
  email: string;
  phone: string;
  first_name: string;
  last_name: string;
  password?: string;
}

const emailTaken = () =>
  new AppError('email_taken', 'An account with this email already exists. Log in, or reset the password.');

/** Creates the account and queues its email verification code in the same transaction. */
export async function register(ctx: FlowContext, input: RegisterInput): Promise<{ user: PublicUser; verification: CodeSent }> {
  const email = normalizeEmail(input.email);
  const phone = normalizePhone(input.phone, ctx.config.DEFAULT_PHONE_REGION);
  if (await findUserByEmail(ctx.db, email)) throw emailTaken();
  await ctx.sendLimits.take(email);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const now = ctx.clock();
  try {
    const user = await ctx.db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('users')
        .values({
          email,
          phone,
          first_name: input.first_name.trim(),
          last_name: input.last_name.trim(),
          password_hash: passwordHash,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await issueAndQueue(trx, ctx, {
        userId: created.id,
        firstName: created.first_name,
        purpose: 'email_verification',
        channel: 'email',
        destination: email,
        now,
      });
      return created;
    });
    notifyEnqueued();
    return { user: toPublicUser(user), verification: codeExpiry(ctx, 'email', now) };
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw emailTaken();
    throw err;
  }
}

/** Sends a new code if the account exists and is unverified; answers the same in every case. */
export async function resendVerification(ctx: FlowContext, rawEmail: string): Promise<CodeSent> {
  const email = normalizeEmail(rawEmail);
  await ctx.sendLimits.take(email);
  const now = ctx.clock();
  const user = await findUserByEmail(ctx.db, email);
  if (user && !user.email_verified_at) {
    await sendCode(ctx, { userId: user.id, firstName: user.first_name, purpose: 'email_verification', channel: 'email', destination: email, now });
  }
  return codeExpiry(ctx, 'email', now);
}

export async function verifyAccount(ctx: FlowContext, rawEmail: string, otp: string): Promise<PublicUser> {
  const now = ctx.clock();
  const user = await findUserByEmail(ctx.db, normalizeEmail(rawEmail));
  await checkCode(ctx, { userId: user?.id, purpose: 'email_verification', code: otp, now });
  const verified = await ctx.db
    .updateTable('users')
    .set({ email_verified_at: now, updated_at: now })
    .where('id', '=', user!.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPublicUser(verified);
}
