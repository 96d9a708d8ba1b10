import { AppError } from '../shared/errors.ts';
import type { OtpPurpose } from '../shared/vocabulary.ts';
import { callingCodeOf } from '../shared/addresses.ts';
import type { Services } from '../runtime/services.ts';
import { otpRules } from './store.ts';
import { consumeCode } from './store.ts';
import { countVerifiedPhoneCode } from './road.ts';

/** Checks and consumes a code under the configured rules, counting the result for /metrics. */
export async function checkCode(
  deps: Pick<Services, 'db' | 'config' | 'metrics'>,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date; revealState: boolean },
): Promise<{ destination: string }> {
  try {
    const result = await consumeCode(deps.db, otpRules(deps.config), input);
    deps.metrics.codesChecked.inc({ purpose: input.purpose, result: 'verified' });
    if (result.destination.startsWith('+')) {
      deps.metrics.smsVerified.inc({ calling_code: callingCodeOf(result.destination) });
      const { userId, purpose } = input;
      if (userId) await countVerifiedPhoneCode(deps, { userId, purpose, destination: result.destination });
    }
    return result;
  } catch (err) {
    if (err instanceof AppError) deps.metrics.codesChecked.inc({ purpose: input.purpose, result: err.code });
    throw err;
  }
}
