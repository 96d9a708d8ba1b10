import { AppError } from '../shared/errors.ts';
import type { OtpPurpose } from '../shared/vocabulary.ts';
import { callingCodeOf } from '../shared/addresses.ts';
import { otpRules, type FlowContext } from './context.ts';
import { consumeCode } from './store.ts';

/** Checks and consumes a code under the configured rules, counting the result for /metrics. */
export async function checkCode(
  ctx: FlowContext,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date; revealState: boolean },
): Promise<{ destination: string }> {
  try {
    const result = await consumeCode(ctx.db, otpRules(ctx.config), input);
    ctx.metrics.codesChecked.inc({ purpose: input.purpose, result: 'verified' });
    if (result.destination.startsWith('+'))
      ctx.metrics.smsVerified.inc({ calling_code: callingCodeOf(result.destination) });
    return result;
  } catch (err) {
    if (err instanceof AppError) ctx.metrics.codesChecked.inc({ purpose: input.purpose, result: err.code });
    throw err;
  }
}
