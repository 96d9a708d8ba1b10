import { sql } from 'kysely';
import { AppError } from '../shared/errors.ts';
import { TEST_DESTINATION, type MessageEventKind, type OtpPurpose } from '../shared/vocabulary.ts';
import { callingCodeOf } from '../shared/addresses.ts';
import type { Services } from '../runtime/services.ts';
import { otpRules } from './store.ts';
import { consumeCode } from './store.ts';
import { countVerifiedPhoneCode } from './road.ts';

/**
 * Checks and consumes a code under the configured rules, counting the result for /metrics. `test`: the
 * code was a test destination's fixed one, whose use is then an event of its message (the delivery log).
 */
export async function checkCode(
  deps: Pick<Services, 'db' | 'config' | 'metrics'>,
  input: { userId: string | undefined; purpose: OtpPurpose; code: string; now: Date; revealState: boolean },
): Promise<{ destination: string; test: boolean }> {
  let result: Awaited<ReturnType<typeof consumeCode>>;
  try {
    result = await consumeCode(deps.db, otpRules(deps.config), input);
  } catch (err) {
    if (err instanceof AppError) deps.metrics.codesChecked.inc({ purpose: input.purpose, result: err.code });
    throw err;
  }
  deps.metrics.codesChecked.inc({ purpose: input.purpose, result: 'verified' });
  // Only while test destinations are configured is a code looked for among theirs.
  const test =
    deps.config.TEST_OTP_DESTINATIONS.size > 0 &&
    result.codeId !== undefined &&
    (await testCodeUsed(deps, result.codeId, input.now));
  // no SMS carried a test code: counted, it would tell of its number range what no send did
  if (!test && result.destination.startsWith('+')) {
    deps.metrics.smsVerified.inc({ calling_code: callingCodeOf(result.destination) });
    const { userId, purpose } = input;
    if (userId) await countVerifiedPhoneCode(deps, { userId, purpose, destination: result.destination });
  }
  return { destination: result.destination, test };
}

/** Adds the event of its use to the code's message when it was a test destination's; true when it was. */
async function testCodeUsed(deps: Pick<Services, 'db'>, codeId: string, now: Date): Promise<boolean> {
  const kind: MessageEventKind = 'test_code_used';
  const { rows } = await sql<{ message_id: string }>`
    INSERT INTO message_events (message_id, at, kind, status)
    SELECT id, cast(${now} as timestamptz), cast(${kind} as text), status FROM messages
    WHERE code_id = ${codeId} AND status = 'captured' AND last_error = ${TEST_DESTINATION}
    RETURNING message_id`.execute(deps.db);
  return rows.length > 0;
}
