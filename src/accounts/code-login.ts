import type { PhoneChannel } from '../shared/vocabulary.ts';
import { CHANNEL_LABELS } from '../shared/vocabulary.ts';
import type { Services } from '../runtime/services.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import { checkCode } from '../otp/check-code.ts';
import { codeNotValid } from '../otp/store.ts';
import { askableChannels, roadFor } from '../otp/road.ts';
import { normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { AppError } from '../shared/errors.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import type { User } from '../platform/db/schema.ts';
import { findByIdentifier, type Identifier, sendAccountCodeEvenly } from './account-code.ts';
import { startSession } from './sessions.ts';
import { isProvenBy } from './users.ts';

/** Who signs in with a code: an email, or a phone (with the channel the person wants the code by). */
export interface CodeLoginName {
  email?: string;
  phone?: string;
}

/** Only an account whose email is verified signs in, and only by what it has proven. */
const mayLogInByCode = (user: User): boolean => user.email_verified_at !== null;

/** The identifier of a code login, refused by its form alone (and by CODE_LOGIN), never by an account. */
function identifierOf(deps: Pick<Services, 'config'>, name: CodeLoginName): Identifier {
  if ((name.email === undefined) === (name.phone === undefined))
    throw new AppError('validation_error', 'Send either "email" or "phone" (not both).');
  const half = name.email !== undefined ? 'email' : 'phone';
  const on = deps.config.CODE_LOGIN.split(',');
  if (!on.includes(half)) {
    // The way that is left, for a person who may have no password at all (a code was their sign-in).
    const other = half === 'email' ? 'phone' : 'email';
    const instead = on.includes(other) ? `ask for a code by ${other} instead, or ` : '';
    throw new AppError(
      'code_login_disabled',
      `Sign-in with a code by ${half} is switched off here (CODE_LOGIN=${deps.config.CODE_LOGIN}): ${instead}sign in with your password. No password yet?`,
      undefined,
      { next: 'reset_password' },
    );
  }
  return name.email !== undefined
    ? { email: normalizeEmail(name.email) }
    : { phone: normalizePhone(name.phone!, deps.config.DEFAULT_PHONE_REGION) };
}

/**
 * Sends a sign-in code to the verified email or verified phone of a verified account; any other
 * address gets the same answer at the same moment, and nothing is sent (account-code.ts).
 */
export async function requestLoginCode(
  deps: Pick<
    Services,
    | 'db'
    | 'config'
    | 'clock'
    | 'logger'
    | 'metrics'
    | 'sendLimits'
    | 'smsBudget'
    | 'seal'
    | 'composer'
    | 'road'
    | 'channels'
  >,
  name: CodeLoginName & { channel?: PhoneChannel },
  requester: Requester,
): Promise<CodeSent> {
  const id = identifierOf(deps, name);
  if ('email' in id) {
    if (name.channel)
      throw new AppError('validation_error', '"channel" goes with "phone" only: codes to an email go by email.');
    return sendAccountCodeEvenly(deps, { purpose: 'login', id, channel: 'email', requester, eligible: mayLogInByCode });
  }
  // Which channels reach the number is a matter of its country and the settings, never of an account.
  if (name.channel && !askableChannels(deps, id.phone).includes(name.channel))
    throw new AppError(
      'validation_error',
      `Codes cannot go to ${id.phone} by ${CHANNEL_LABELS[name.channel]} here (it can take: ${askableChannels(
        deps,
        id.phone,
      )
        .map((c) => CHANNEL_LABELS[c])
        .join(', ')}).`,
    );
  return sendAccountCodeEvenly(deps, {
    purpose: 'login',
    id,
    channel: name.channel ?? roadFor(deps, id.phone)[0],
    asked: name.channel,
    requester,
    eligible: mayLogInByCode,
  });
}

/**
 * A right sign-in code starts a session, as a password does. Every refusal is otp_invalid, whatever
 * the address. It lifts no password throttle: a code proves the inbox or the phone, not the password.
 */
export async function verifyLoginCode(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics'>,
  name: CodeLoginName,
  otp: string,
  requester: Requester,
): Promise<TokenPair> {
  const found = await findByIdentifier(deps, identifierOf(deps, name));
  const user = found && mayLogInByCode(found) ? found : undefined;
  const now = deps.clock();
  const { destination } = await checkCode(deps, {
    userId: user?.id,
    purpose: 'login',
    code: otp,
    now,
    revealState: false,
  });
  // Only while what the code went to is still the account's own: a number it has left may be someone else's now.
  if (!isProvenBy(user!, destination)) throw codeNotValid(false);
  return startSession(deps, user!.id, { method: 'code', requester }, now);
}
