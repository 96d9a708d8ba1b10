import { AppError } from '../errors.ts';
import type { OtpPurpose } from '../db/schema.ts';
import { otpRules, type FlowContext } from './context.ts';
import { consumeCode } from './store.ts';

/** Checks and consumes a code under the configured rules, counting the result for /metrics. */
export async function checkCode(
  ctx: FlowContext,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date },
): Promise<{ destination: string }> {
  try {
    const result = await consumeCode(ctx.db, otpRules(ctx.config), input);
    ctx.metrics.codesChecked.inc({ purpose: input.purpose, result: 'verified' });
    return result;
  } catch (err) {
    if (err instanceof AppError) ctx.metrics.codesChecked.inc({ purpose: input.purpose, result: err.code });
    throw err;
  }
}
