import {
  CHANNEL_LABELS,
  isPhoneChannel,
  PURPOSES,
  type Channel,
  type OtpPurpose,
  type PhoneChannel,
} from '../shared/vocabulary.ts';
import type { Services } from '../runtime/services.ts';
import { codeExpiry, rehearseSendCode, sendCode, sendCodeWithinBudget } from '../otp/send-code.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { AppError } from '../shared/errors.ts';
import type { User } from '../platform/db/schema.ts';
import { answerEvenly } from './even-answer.ts';
import { findUserByEmail, findUserByVerifiedPhone, sentPartOf } from './users.ts';
import { smsTo } from '../otp/sms-budget.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { testCodeFor } from '../config/test-destinations.ts';

/** An account as a stranger may name it: its email, or its phone in E.164. */
export type Identifier = { email: string } | { phone: string };

const notAnIdentifier = (field: string) =>
  new AppError(
    'validation_error',
    `Invalid body field "${field}": send the account's email address or its phone number, e.g. +27825550123.`,
  );

/**
 * An identifier is an email (it has an @) or a phone number, in its normal form. Anything else is
 * refused: answering "a code was sent" to a typo would leave its owner waiting for a code forever.
 * The answer depends only on the identifier's form, never on whether an account has it.
 */
export function normalizeIdentifier(deps: Pick<Services, 'config'>, identifier: string, field: string): Identifier {
  const trimmed = identifier.trim();
  if (isEmailAddress(trimmed)) {
    if (!/^[^\s@]+@[^\s@]+$/.test(trimmed)) throw notAnIdentifier(field);
    return { email: normalizeEmail(trimmed) };
  }
  try {
    return { phone: normalizePhone(trimmed, deps.config.DEFAULT_PHONE_REGION) };
  } catch {
    throw notAnIdentifier(field);
  }
}

/** Phones find only verified numbers: an unverified one may be anybody's typo. */
export function findByIdentifier(deps: Pick<Services, 'db'>, id: Identifier): Promise<User | undefined> {
  return 'email' in id ? findUserByEmail(deps.db, id.email) : findUserByVerifiedPhone(deps.db, id.phone);
}

/** A code to an account named by a stranger: why, by which channel, and which accounts may get it. */
export interface AccountCodeAsk {
  purpose: OtpPurpose;
  id: Identifier;
  /** 'email', or a phone channel: the road's first channel takes it, the named one when `asked`. */
  channel: Channel;
  asked?: PhoneChannel;
  requester: Requester;
  /** Whether this account may get the code at all (the others are rehearsed, alike). */
  eligible: (user: User) => boolean;
}

/**
 * Sends a code by the chosen channel when the account can receive it; answers the same, at the same
 * moment, always. Limits visible to the caller key on their network and what was typed; the budget of
 * codes really sent to the destination it resolves to (and the account's SMS budget) is spent silently
 * and only when a code goes out, so an email and a phone of one account share one budget without
 * telling anyone the account exists, and nobody's asking spends the owner's budget.
 */
export async function sendAccountCodeEvenly(
  deps: Pick<
    Services,
    'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'sendLimits' | 'smsBudget' | 'seal' | 'composer' | 'road'
  >,
  ask: AccountCodeAsk,
): Promise<CodeSent> {
  const { purpose, id, channel, requester } = ask;
  return answerEvenly(deps.logger, async (defer) => {
    const typed = 'email' in id ? id.email : id.phone;
    const now = deps.clock();
    // Every phone channel, not only SMS: a call or a WhatsApp message costs as much and rings the same
    // phone. A test destination (TEST_OTP_DESTINATIONS) is sent nothing: no share is spent for it.
    if (isPhoneChannel(channel) && !testCodeFor(deps.config, typed, now)) await deps.smsBudget.admitUnlock(requester);
    await deps.sendLimits.takeAsked(requester, typed);
    const found = await findByIdentifier(deps, id);
    const user = found && ask.eligible(found) ? found : undefined;
    const destination = channel === 'email' ? user?.email : user?.phone_verified_at ? user.phone : undefined;
    if (user && destination) {
      defer(async () => {
        if (await mayStillSend(deps, user, destination, ask, now)) {
          await sendCode(deps, {
            userId: user.id,
            firstName: user.first_name,
            locale: user.locale,
            purpose,
            // by phone: the first channel of the number's road (the answer says the asked one for every account alike)
            channel: channel === 'email' ? channel : await deps.road.first(destination, ask.asked),
            destination,
            now,
          });
        }
      });
    } else {
      defer(() => rehearseSendCode(deps, { purpose, channel, destination: typed, now }));
    }
    return codeExpiry(deps, channel, now);
  });
}

/**
 * Emails a code of `purpose` when the address's account is `eligible`, and rehearses one otherwise;
 * answers the same, at the same moment, in every case (a forgotten password, a verification code again).
 */
export async function emailAccountCodeEvenly(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'sendLimits' | 'seal' | 'composer'>,
  purpose: OtpPurpose,
  rawEmail: string,
  requester: Requester,
  eligible: (user: User) => boolean,
): Promise<CodeSent> {
  return answerEvenly(deps.logger, async (defer) => {
    const email = normalizeEmail(rawEmail);
    await deps.sendLimits.takeAsked(requester, email);
    const now = deps.clock();
    const user = await findUserByEmail(deps.db, email);
    if (user && eligible(user))
      defer(() =>
        sendCodeWithinBudget(
          deps,
          {
            userId: user.id,
            firstName: user.first_name,
            locale: user.locale,
            purpose,
            channel: 'email',
            destination: email,
            now,
          },
          requester,
          sentPartOf(user, email),
        ),
      );
    else defer(() => rehearseSendCode(deps, { purpose, channel: 'email', destination: email, now }));
    return codeExpiry(deps, 'email', now);
  });
}

async function mayStillSend(
  deps: Pick<Services, 'config' | 'logger' | 'sendLimits' | 'smsBudget'>,
  user: User,
  destination: string,
  { purpose, channel, requester }: AccountCodeAsk,
  now: Date,
): Promise<boolean> {
  // every phone channel spends the phone budgets; a test destination's stay whole (nothing is sent
  // to it), its send limits hold
  const sms = isPhoneChannel(channel) && !testCodeFor(deps.config, destination, now);
  try {
    if (sms) await deps.smsBudget.check({ ...smsTo(user, destination), requester: 'admitted' });
    if (!(await deps.sendLimits.tryTakeSent(requester, destination, sentPartOf(user, destination)))) return false;
    if (sms) await deps.smsBudget.take({ ...smsTo(user, destination), requester: 'admitted' });
    return true;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    deps.logger.warn(
      { user_id: user.id, reason: err.code },
      `${PURPOSES[purpose].logWord} ${CHANNEL_LABELS[channel]} not sent: the account's SMS budget is spent`,
    );
    return false;
  }
}
