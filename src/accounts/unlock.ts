import type { Channel } from '../shared/vocabulary.ts';
import type { Services } from '../runtime/services.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import { clearLoginFailures } from './login-throttle.ts';
import { passwordSession } from './login.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { findByIdentifier, normalizeIdentifier, sendAccountCodeEvenly } from './account-code.ts';
import { recordAccountEvent } from './events.ts';

/**
 * Sends an unlock code by the chosen channel when the account can receive it; answers the same, at
 * the same moment, always (account-code.ts says how).
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
  return sendAccountCodeEvenly(deps, {
    purpose: 'unlock',
    id: normalizeIdentifier(deps, identifier, 'identifier'),
    channel,
    requester,
    eligible: () => true,
  });
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
  const user = await findByIdentifier(deps, normalizeIdentifier(deps, identifier, 'identifier'));
  const now = deps.clock();
  await checkCode(deps, { userId: user?.id, purpose: 'unlock', code: otp, now, revealState: false });
  await deps.db.transaction().execute(async (trx) => {
    await clearLoginFailures(trx, user!.email);
    await recordAccountEvent(trx, deps, { userId: user!.id, type: 'unlocked', actor: 'user', requester, at: now });
  });
  return password === undefined ? undefined : passwordSession(deps, user!.email, user, password, requester, now);
}
