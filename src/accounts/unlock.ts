import type { Channel } from '../shared/vocabulary.ts';
import type { Services } from '../runtime/services.ts';
import { codeExpiry, rehearseSendCode, sendCode } from '../otp/send-code.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import { isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { AppError } from '../shared/errors.ts';
import type { User } from '../platform/db/schema.ts';
import { answerEvenly } from './even-answer.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { passwordSession } from './login.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import { findUserByEmail, findUserByVerifiedPhone, sentPartOf } from './users.ts';
import { smsTo } from '../otp/sms-budget.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { recordAccountEvent } from './events.ts';

const notAnIdentifier = () =>
  new AppError(
    'validation_error',
    'Invalid body field "identifier": send the account\'s email address or its phone number, e.g. +27825550123.',
  );

/**
 * An identifier is an email (it has an @) or a phone number, in its normal form. Anything else is
 * refused: answering "a code was sent" to a typo would leave its owner waiting for a code forever.
 * The answer depends only on the identifier's form, never on whether an account has it.
 */
function normalizeIdentifier(
  deps: Pick<Services, 'config'>,
  identifier: string,
): { email: string } | { phone: string } {
  const trimmed = identifier.trim();
  if (isEmailAddress(trimmed)) {
    if (!/^[^\s@]+@[^\s@]+$/.test(trimmed)) throw notAnIdentifier();
    return { email: normalizeEmail(trimmed) };
  }
  try {
    return { phone: normalizePhone(trimmed, deps.config.DEFAULT_PHONE_REGION) };
  } catch {
    throw notAnIdentifier();
  }
}

/** Phones find only verified numbers: an unverified one may be anybody's typo. */
async function findByIdentifier(
  deps: Pick<Services, 'db'>,
  id: { email: string } | { phone: string },
): Promise<User | undefined> {
  return 'email' in id ? findUserByEmail(deps.db, id.email) : findUserByVerifiedPhone(deps.db, id.phone);
}

/**
 * Sends an unlock code by the chosen channel when the account can receive it; answers the same, at
 * the same moment, always. Limits visible to the caller key on their network and what was typed; the
 * budget of codes really sent to the destination it resolves to (and the account's SMS budget) is
 * spent silently and only when a code goes out, so an email and a phone of one account share one
 * budget without telling anyone the account exists, and nobody's asking spends the owner's budget.
 */
export async function requestUnlock(
  deps: Pick<
    Services,
    'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'sendLimits' | 'smsBudget' | 'seal' | 'composer' | 'road'
  >,
  identifier: string,
  channel: Channel,
  requester: Requester,
): Promise<CodeSent> {
  return answerEvenly(deps.logger, async (defer) => {
    const id = normalizeIdentifier(deps, identifier);
    const typed = 'email' in id ? id.email : id.phone;
    if (channel === 'sms') await deps.smsBudget.admitUnlock(requester);
    await deps.sendLimits.takeAsked(requester, typed);
    const now = deps.clock();
    const user = await findByIdentifier(deps, id);
    const destination = channel === 'email' ? user?.email : user?.phone_verified_at ? user.phone : undefined;
    if (user && destination) {
      defer(async () => {
        if (await mayStillSend(deps, user, destination, channel, requester)) {
          await sendCode(deps, {
            userId: user.id,
            firstName: user.first_name,
            locale: user.locale,
            purpose: 'unlock',
            // by phone: the first channel of the number's road (the answer says sms for every account alike)
            channel: channel === 'email' ? channel : await deps.road.first(destination),
            destination,
            now,
          });
        }
      });
    } else {
      defer(() => rehearseSendCode(deps, { purpose: 'unlock', channel, destination: typed, now }));
    }
    return codeExpiry(deps, channel, now);
  });
}

async function mayStillSend(
  deps: Pick<Services, 'logger' | 'sendLimits' | 'smsBudget'>,
  user: User,
  destination: string,
  channel: Channel,
  requester: Requester,
): Promise<boolean> {
  try {
    if (channel === 'sms') await deps.smsBudget.check({ ...smsTo(user, destination), requester: 'admitted' });
    if (!(await deps.sendLimits.tryTakeSent(requester, destination, sentPartOf(user, destination)))) return false;
    if (channel === 'sms') await deps.smsBudget.take({ ...smsTo(user, destination), requester: 'admitted' });
    return true;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    deps.logger.warn({ user_id: user.id, reason: err.code }, "unlock SMS not sent: the account's SMS budget is spent");
    return false;
  }
}

/**
 * A right unlock code lifts the login throttle of its account at once. Given with the password, it
 * also signs in (a token pair), before anyone can fail a sign-in and arm the throttle again.
 */
export async function verifyUnlock(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'passwords'>,
  identifier: string,
  otp: string,
  password: string | undefined,
  requester: Requester,
): Promise<TokenPair | undefined> {
  const user = await findByIdentifier(deps, normalizeIdentifier(deps, identifier));
  const now = deps.clock();
  await checkCode(deps, { userId: user?.id, purpose: 'unlock', code: otp, now, revealState: false });
  await deps.db.transaction().execute(async (trx) => {
    await clearLoginFailures(trx, user!.email);
    await recordAccountEvent(trx, deps, { userId: user!.id, type: 'unlocked', actor: 'user', requester, at: now });
  });
  return password === undefined ? undefined : passwordSession(deps, user!.email, user, password, requester, now);
}
