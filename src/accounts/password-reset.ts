import type { FlowContext } from '../otp/context.ts';
import { codeExpiry, rehearseSendCode, sendCodeWithinBudget } from '../otp/send-code.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import { answerEvenly } from './even-answer.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { revokeAllSessions, startSession } from './sessions.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import { findUserByEmail, sentPartOf } from './users.ts';

/** Emails a reset code when the account exists; answers the same, at the same moment, in every case. */
export async function forgotPassword(ctx: FlowContext, rawEmail: string, requester: Requester): Promise<CodeSent> {
  return answerEvenly(ctx.logger, async (defer) => {
    const email = normalizeEmail(rawEmail);
    await ctx.sendLimits.takeAsked(requester, email);
    const now = ctx.clock();
    const user = await findUserByEmail(ctx.db, email);
    if (user)
      defer(() =>
        sendCodeWithinBudget(
          ctx,
          {
            userId: user.id,
            firstName: user.first_name,
            locale: user.locale,
            purpose: 'password_reset',
            channel: 'email',
            destination: email,
            now,
          },
          requester,
          sentPartOf(user, email),
        ),
      );
    else defer(() => rehearseSendCode(ctx, { purpose: 'password_reset', channel: 'email', destination: email, now }));
    return codeExpiry(ctx, 'email', now);
  });
}

/**
 * Sets a new password with a reset code, ends every session of the account and starts one for the
 * code's holder: signed in at once, so strangers failing sign-ins for the account (the throttle) cannot
 * keep the owner out after they proved the inbox.
 */
export async function resetPassword(
  ctx: FlowContext,
  rawEmail: string,
  otp: string,
  newPassword: string,
): Promise<TokenPair> {
  const email = normalizeEmail(rawEmail);
  const user = await findUserByEmail(ctx.db, email);
  const now = ctx.clock();
  // Hashed first: a busy hasher (503) must not leave the code spent and the password unchanged.
  const passwordHash = await ctx.passwords.hash(newPassword);
  await checkCode(ctx, { userId: user?.id, purpose: 'password_reset', code: otp, now, revealState: false });
  await ctx.db.transaction().execute(async (trx) => {
    // The code reached the inbox, which proves the address too.
    await trx
      .updateTable('users')
      .set((eb) => ({
        password_hash: passwordHash,
        password_contested: false,
        updated_at: now,
        email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(now)),
      }))
      .where('id', '=', user!.id)
      .execute();
    await revokeAllSessions(trx, user!.id, now);
    await clearLoginFailures(trx, email);
  });
  return startSession(ctx.db, ctx.config, user!.id, now);
}
