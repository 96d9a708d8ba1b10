import type { Services } from '../runtime/services.ts';
import { codeExpiry, sendCode } from '../otp/send-code.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import type { User } from '../platform/db/schema.ts';
import { AppError } from '../shared/errors.ts';
import { assertTextable, normalizePhone } from '../shared/addresses.ts';
import { isUniqueViolation, sentPartOf, toPublicUser } from './users.ts';
import type { PublicUser } from '../contract/public-user.ts';
import { personView, type PublicState } from '../delivery/hints.ts';
import { diagnose } from '../delivery/reasons.ts';
import { smsTo } from '../otp/sms-budget.ts';
import type { Requester } from '../shared/trust-proxy.ts';

const phoneTaken = () => new AppError('phone_taken', 'This phone number is already verified on another account.');

/**
 * Sends an SMS code to the account's phone, or to a new number that replaces it once verified. Every
 * refusal comes before anything is sent or spent where it can: a number we do not text, the account's
 * SMS budgets and the global brake, then the number's own limits. A number verified on another account
 * is answered and charged exactly like a free one: only the code's holder learns, at verify-otp, that
 * it is taken (anything sooner told a stranger which numbers have accounts).
 */
export async function requestPhoneCode(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'sendLimits' | 'smsBudget' | 'seal' | 'composer'>,
  user: User,
  requester: Requester,
  newPhone?: string,
): Promise<CodeSent & { phone: string }> {
  const phone = newPhone ? normalizePhone(newPhone, deps.config.DEFAULT_PHONE_REGION) : user.phone;
  assertTextable(phone, deps.config.SMS_ALLOWED_COUNTRIES);
  const sms = { ...smsTo(user, phone), requester };
  await deps.smsBudget.check(sms);
  // The asker is the account: strangers on its network cannot spend its asks or its first code.
  const asker = { account: user.id };
  await deps.sendLimits.takeAsked(asker, phone);
  // Past the number's hourly cap only each account's first code this hour goes.
  const part = sentPartOf(user, phone);
  if (!(await deps.sendLimits.tryTakeSent(asker, phone, part))) {
    const waits = await deps.sendLimits.waits(phone);
    throw new AppError(
      'rate_limited',
      'Too many codes were sent to this number in the last hour. Try again later.',
      Math.max(1, waits[part]),
    );
  }
  await deps.smsBudget.take(sms);
  const now = deps.clock();
  await sendCode(deps, {
    userId: user.id,
    firstName: user.first_name,
    locale: user.locale,
    purpose: 'phone_verification',
    channel: 'sms',
    destination: phone,
    now,
  });
  return { ...codeExpiry(deps, 'sms', now), phone };
}

export async function verifyPhoneCode(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'smsBudget'>,
  user: User,
  otp: string,
): Promise<PublicUser> {
  const now = deps.clock();
  const { destination } = await checkCode(deps, {
    userId: user.id,
    purpose: 'phone_verification',
    code: otp,
    now,
    revealState: true,
  });
  await deps.smsBudget.verified(smsTo(user, destination));
  try {
    const updated = await deps.db
      .updateTable('users')
      .set({ phone: destination, phone_verified_at: now, updated_at: now })
      .where('id', '=', user.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPublicUser(updated);
  } catch (err) {
    if (isUniqueViolation(err, 'users_verified_phone_key')) throw phoneTaken();
    throw err;
  }
}

/**
 * Where the account's latest SMS code is, for the person waiting for it: the message that carries the
 * code (its code_id), as the person sees it. Undefined when no SMS code was asked for.
 */
export async function phoneCodeStatus(
  deps: Pick<Services, 'db' | 'config'>,
  user: User,
): Promise<PhoneCodeStatus | undefined> {
  const code = await deps.db
    .selectFrom('otp_codes')
    .select(['id', 'destination', 'expires_at'])
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'phone_verification')
    .executeTakeFirst();
  if (!code) return undefined;
  const message = await deps.db
    .selectFrom('messages')
    .select(['id', 'status', 'updated_at'])
    .where('code_id', '=', code.id)
    .where('channel', '=', 'sms')
    .executeTakeFirst();
  if (!message) return undefined;
  const { state, hint } = personView('sms', message.status, deps.config.isDevelopment);
  const known = state === 'undelivered' || state === 'failed' ? await latestDiagnosis(deps, message.id) : null;
  return {
    phone: code.destination,
    status: state,
    hint: known?.hint ?? hint,
    updated_at: message.updated_at.toISOString(),
    code_expires_at: code.expires_at.toISOString(),
  };
}

/** The plain words of the provider's last answer to a message (a failed attempt or a receipt), when its code is known. */
async function latestDiagnosis(deps: Pick<Services, 'db'>, messageId: string) {
  const answer = await deps.db
    .selectFrom('message_events')
    .select(['provider', 'provider_status', 'provider_code'])
    .where('message_id', '=', messageId)
    .where((eb) => eb.or([eb('provider_code', 'is not', null), eb('provider_status', 'is not', null)]))
    .orderBy('at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return answer
    ? diagnose(answer.provider, {
        status: answer.provider_status ?? undefined,
        code: answer.provider_code ?? undefined,
      })
    : null;
}

export interface PhoneCodeStatus {
  phone: string;
  status: PublicState;
  hint: string;
  updated_at: string;
  code_expires_at: string;
}
