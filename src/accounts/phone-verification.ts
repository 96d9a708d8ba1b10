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
import { CHANNEL_LABELS, type Channel, type PhoneChannel } from '../shared/vocabulary.ts';
import { askableChannels } from '../otp/road.ts';
import { testCodeFor } from '../config/test-destinations.ts';
import { recordAccountEvent } from './events.ts';
import { type Proof, proveItIsThem } from './proof.ts';

const phoneTaken = () => new AppError('phone_taken', 'This phone number is already verified on another account.');

/**
 * Sends an SMS code to the account's phone, or to a new number that replaces it once verified. Every
 * refusal comes before anything is sent or spent where it can: a number we do not text, the account's
 * SMS budgets and the global brake, then the number's own limits. A number verified on another account
 * is answered and charged exactly like a free one: only the code's holder learns, at verify-otp, that
 * it is taken (anything sooner told a stranger which numbers have accounts). A test destination
 * (TEST_OTP_DESTINATIONS) is sent nothing: it spends no SMS budget or brake, only the number's limits.
 * A verified number is replaced only with proof that it is the person (see proveItIsThem), checked
 * before anything is spent: a phone put on the account signs in by phone code, so a stolen session
 * alone must not move it. The proof hangs on the account's own phone, never on the number asked for.
 */
export async function requestPhoneCode(
  deps: Pick<
    Services,
    | 'db'
    | 'config'
    | 'clock'
    | 'metrics'
    | 'sendLimits'
    | 'smsBudget'
    | 'seal'
    | 'composer'
    | 'channels'
    | 'road'
    | 'passwords'
  >,
  user: User,
  requester: Requester,
  newPhone?: string,
  asked?: PhoneChannel,
  proof?: Proof,
): Promise<CodeSent & { phone: string }> {
  const phone = newPhone ? normalizePhone(newPhone, deps.config.DEFAULT_PHONE_REGION) : user.phone;
  // Premium, special-service and disallowed numbers are refused here, before any channel is chosen.
  assertTextable(phone, deps.config.SMS_ALLOWED_COUNTRIES);
  if (asked && !askableChannels(deps, phone).includes(asked))
    throw new AppError(
      'validation_error',
      `Codes cannot go to ${phone} by ${CHANNEL_LABELS[asked]} here (it can take: ${askableChannels(deps, phone)
        .map((c) => CHANNEL_LABELS[c])
        .join(', ')}).`,
    );
  const now = deps.clock();
  // a proof given is checked even where none is needed: a wrong password is never quietly taken
  if (proof) await proveItIsThem(deps, user, proof, { by: 'phone_change', requester, now });
  else if (user.phone_verified_at && phone !== user.phone)
    throw new AppError(
      'proof_required',
      'The account\'s verified phone is replaced only with proof that it is you: send "password" (the account\'s), or "otp", a sign-in code sent to the account\'s email address.',
    );
  const test = testCodeFor(deps.config, phone, now) !== undefined;
  const sms = { ...smsTo(user, phone), requester };
  if (!test) await deps.smsBudget.check(sms);
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
  if (!test) await deps.smsBudget.take(sms);
  // a test destination's code has no road to move on: a new (fixed) code, on the channel asked for
  if (asked && !test) {
    // The live code, unchanged, on the channel the person names: its lifetime and tries stay.
    const live = await liveCodeTo(deps, user, phone, now);
    const moved = live && (await deps.road.ask(live.id, asked));
    if (moved === 'taken')
      throw new AppError(
        'rate_limited',
        `This code already went by ${CHANNEL_LABELS[asked]}. Ask for another channel, or a new code once it expires.`,
        Math.max(1, Math.ceil((live!.expires_at.getTime() - now.getTime()) / 1000)),
      );
    if (moved === 'sent')
      return {
        channel: asked,
        expires_in_minutes: Math.ceil((live!.expires_at.getTime() - now.getTime()) / 60_000),
        expires_at: live!.expires_at.toISOString(),
        phone,
      };
  }
  const channel = await deps.road.first(phone, asked);
  await sendCode(deps, {
    userId: user.id,
    firstName: user.first_name,
    locale: user.locale,
    purpose: 'phone_verification',
    channel,
    destination: phone,
    now,
  });
  return { ...codeExpiry(deps, channel, now), phone };
}

/** The account's live phone code to this number, if any. */
const liveCodeTo = (deps: Pick<Services, 'db'>, user: User, phone: string, now: Date) =>
  deps.db
    .selectFrom('otp_codes')
    .select(['id', 'expires_at'])
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'phone_verification')
    .where('destination', '=', phone)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();

/**
 * Verifies the phone with its code: the number it went to becomes the account's, verified. A
 * verified number replaced by the new one is `phone_changed`, a first one `phone_verified`.
 */
export async function verifyPhoneCode(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'smsBudget'>,
  user: User,
  otp: string,
  requester: Requester,
): Promise<PublicUser> {
  const now = deps.clock();
  const { destination, test } = await checkCode(deps, {
    userId: user.id,
    purpose: 'phone_verification',
    code: otp,
    now,
    revealState: true,
  });
  // a code nobody sent tells nothing of its number range
  if (!test) await deps.smsBudget.verified(smsTo(user, destination));
  try {
    const updated = await deps.db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('users')
        .select(['phone', 'phone_verified_at'])
        .where('id', '=', user.id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const row = await trx
        .updateTable('users')
        .set({ phone: destination, phone_verified_at: now, updated_at: now })
        .where('id', '=', user.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const changed = before.phone_verified_at !== null && before.phone !== destination;
      await recordAccountEvent(trx, deps, {
        userId: user.id,
        type: changed ? 'phone_changed' : 'phone_verified',
        actor: 'user',
        requester,
        facts: changed ? { phone: destination, previous_phone: before.phone } : { phone: destination },
        at: now,
      });
      return row;
    });
    return toPublicUser(updated);
  } catch (err) {
    if (isUniqueViolation(err, 'users_verified_phone_key')) throw phoneTaken();
    throw err;
  }
}

/**
 * Where the account's latest phone code is, for the person waiting for it: each channel it took (the
 * messages that carry its code_id), as the person sees it, the time of the next automatic move if one
 * waits, and the channels they may still ask for. Undefined when no phone code was asked for.
 */
export async function phoneCodeStatus(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'channels'>,
  user: User,
): Promise<PhoneCodeStatus | undefined> {
  const code = await deps.db
    .selectFrom('otp_codes')
    .select(['id', 'destination', 'expires_at', 'consumed_at'])
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'phone_verification')
    .executeTakeFirst();
  if (!code) return undefined;
  const messages = await deps.db
    .selectFrom('messages')
    .select(['id', 'channel', 'status', 'last_error', 'updated_at', 'waits_for', 'next_attempt_at'])
    .where('code_id', '=', code.id)
    .where('status', '!=', 'withdrawn')
    .orderBy('created_at')
    .execute();
  // a message the road's timer holds has not gone yet: it is the next move, not a channel taken
  const waiting = messages.find((m) => m.status === 'queued' && m.waits_for !== null);
  const taken = messages.filter((m) => m !== waiting);
  if (!taken.length) return undefined;
  const channels = await Promise.all(
    taken.map(async (m) => {
      const { state, hint } = personView(m.channel, m.status, deps.config.isDevelopment, m.last_error);
      const known = state === 'undelivered' || state === 'failed' ? await latestDiagnosis(deps, m.id) : null;
      return { channel: m.channel, status: state, hint: known?.hint ?? hint, updated_at: m.updated_at.toISOString() };
    }),
  );
  const live = !code.consumed_at && code.expires_at > deps.clock();
  const went = new Set(taken.map((m) => m.channel));
  return {
    phone: code.destination,
    ...channels.at(-1)!,
    code_expires_at: code.expires_at.toISOString(),
    channels,
    next_move_at: live && waiting ? waiting.next_attempt_at.toISOString() : null,
    can_ask: live ? askableChannels(deps, code.destination).filter((c) => !went.has(c)) : [],
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

interface ChannelState {
  channel: Channel;
  status: PublicState;
  hint: string;
  updated_at: string;
}

export interface PhoneCodeStatus extends ChannelState {
  phone: string;
  code_expires_at: string;
  /** Every channel the code took, oldest first; the last is the one above. */
  channels: ChannelState[];
  next_move_at: string | null;
  can_ask: PhoneChannel[];
}
