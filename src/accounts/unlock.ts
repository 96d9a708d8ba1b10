import type { Channel } from '../db/schema.ts';
import type { FlowContext } from '../otp/context.ts';
import { codeExpiry, sendCode, type CodeSent } from '../otp/send-code.ts';
import { checkCode } from '../otp/check-code.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { normalizeEmail, normalizePhone } from './phone.ts';
import { findUserByEmail, findUserByVerifiedPhone } from './users.ts';
import { AppError } from '../errors.ts';
import type { User } from '../db/schema.ts';

const notAnIdentifier = () =>
  new AppError('validation_error', 'Invalid body field "identifier": send the account\'s email address or its phone number, e.g. +27825550123.');

/**
 * An identifier is an email (it has an @) or a phone number, in its normal form. Anything else is
 * refused: answering "a code was sent" to a typo would leave its owner waiting for a code forever.
 * The answer depends only on the identifier's form, never on whether an account has it.
 */
function normalizeIdentifier(ctx: FlowContext, identifier: string): { email?: string; phone?: string } {
  const trimmed = identifier.trim();
  if (trimmed.includes('@')) {
    if (!/^[^\s@]+@[^\s@]+$/.test(trimmed)) throw notAnIdentifier();
    return { email: normalizeEmail(trimmed) };
  }
  try {
    return { phone: normalizePhone(trimmed, ctx.config.DEFAULT_PHONE_REGION) };
  } catch {
    throw notAnIdentifier();
  }
}

/** Phones find only verified numbers: an unverified one may be anybody's typo. */
async function findByIdentifier(ctx: FlowContext, identifier: string): Promise<User | undefined> {
  const { email, phone } = normalizeIdentifier(ctx, identifier);
  if (email) return findUserByEmail(ctx.db, email);
  return phone ? findUserByVerifiedPhone(ctx.db, phone) : undefined;
}

/** Sends an unlock code by the chosen channel when the account can receive it; answers the same always. */
export async function requestUnlock(ctx: FlowContext, identifier: string, channel: Channel): Promise<CodeSent> {
  const { email, phone } = normalizeIdentifier(ctx, identifier);
  await ctx.sendLimits.take(email ?? phone ?? identifier.trim().toLowerCase());
  const now = ctx.clock();
  const user = await findByIdentifier(ctx, identifier);
  const destination = channel === 'email' ? user?.email : user?.phone_verified_at ? user.phone : undefined;
  if (user && destination) {
    await sendCode(ctx, { userId: user.id, firstName: user.first_name, purpose: 'unlock', channel, destination, now });
  }
  return codeExpiry(ctx, channel, now);
}

/** A right unlock code lifts the login throttle of its account at once. */
export async function verifyUnlock(ctx: FlowContext, identifier: string, otp: string): Promise<void> {
  const user = await findByIdentifier(ctx, identifier);
  await checkCode(ctx, { userId: user?.id, purpose: 'unlock', code: otp, now: ctx.clock() });
  await clearLoginFailures(ctx.db, user!.email);
}
