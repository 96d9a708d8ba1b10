import type { Services } from '../runtime/services.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import type { User } from '../platform/db/schema.ts';
import { AppError } from '../shared/errors.ts';
import { normalizeEmail } from '../shared/addresses.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { CHANNEL_LABELS, isPhoneChannel, PURPOSES, type Channel, type OtpPurpose } from '../shared/vocabulary.ts';
import { codeExpiry, sendCode } from '../otp/send-code.ts';
import { smsTo } from '../otp/sms-budget.ts';
import { askableChannels } from '../otp/road.ts';
import { unsuppress } from '../delivery/suppressions.ts';
import { findUserByEmail, findUserById, sentPartOf } from './users.ts';
import { endSessions } from './sessions.ts';
import { recordAccountEvent } from './events.ts';

/**
 * What support does for a person, from the admin API or the console (the same routes): each action is
 * one call here, so that the account's event log (issue 13) records each with the admin as actor in one
 * place. Every action reaches only the person's own addresses: support never learns a code.
 */

const noSuchAccount = () => new AppError('not_found', 'No account has this id.');

/** Why an account may not be sent a code of this purpose on this channel, or undefined when it may. */
function refusal(deps: Pick<Services, 'config' | 'channels'>, user: User, purpose: OtpPurpose, channel: Channel) {
  const emailVerified = user.email_verified_at !== null;
  const phoneVerified = user.phone_verified_at !== null;
  if (!(PURPOSES[purpose].channels as readonly Channel[]).includes(channel))
    return `A ${PURPOSES[purpose].label.toLowerCase()} code goes by ${PURPOSES[purpose].channels.map((c) => CHANNEL_LABELS[c]).join(', ')} only.`;
  if (isPhoneChannel(channel) && !askableChannels(deps, user.phone).includes(channel))
    return `Codes cannot go to ${user.phone} by ${CHANNEL_LABELS[channel]} here (it can take: ${
      askableChannels(deps, user.phone)
        .map((c) => CHANNEL_LABELS[c])
        .join(', ') || 'nothing'
    }).`;
  switch (purpose) {
    case 'email_verification':
      return emailVerified ? 'The email is verified already: there is nothing to verify.' : undefined;
    case 'phone_verification':
      return phoneVerified ? 'The phone is verified already: there is nothing to verify.' : undefined;
    case 'login':
      if (!emailVerified) return 'Only an account whose email is verified signs in with a code.';
      if (!deps.config.CODE_LOGIN.split(',').includes(channel === 'email' ? 'email' : 'phone'))
        return `Sign-in with a code by ${channel === 'email' ? 'email' : 'phone'} is switched off here (CODE_LOGIN=${deps.config.CODE_LOGIN}).`;
      break;
  }
  // resets, unlocks and sign-ins go only to what the account has proven
  if (channel === 'email' ? !emailVerified : !phoneVerified)
    return `A ${PURPOSES[purpose].label.toLowerCase()} code goes only to a verified ${channel === 'email' ? 'email' : 'phone'}.`;
  return undefined;
}

/**
 * A new code of `purpose` to the person's own email or phone, by the channel they name. It counts as
 * any ask does (support's network is the asker), spends the destination's budget of codes sent and,
 * by phone, the account's SMS budget and the channel's brake; it replaces the live code of that purpose.
 * Its code_sent_by_support event commits with the code (the channel it took: a brake may move it on).
 */
export async function sendCodeForPerson(
  deps: Pick<
    Services,
    'db' | 'config' | 'clock' | 'metrics' | 'sendLimits' | 'smsBudget' | 'seal' | 'composer' | 'channels' | 'road'
  >,
  userId: string,
  ask: { purpose: OtpPurpose; channel: Channel },
  requester: Requester,
): Promise<CodeSent & { destination: string }> {
  const user = await findUserById(deps.db, userId);
  if (!user) throw noSuchAccount();
  const { purpose, channel } = ask;
  const refused = refusal(deps, user, purpose, channel);
  if (refused) throw new AppError('validation_error', refused);
  const destination = channel === 'email' ? normalizeEmail(user.email) : user.phone;
  const sms = isPhoneChannel(channel) ? { ...smsTo(user, destination), requester } : undefined;
  if (sms) await deps.smsBudget.check(sms);
  await deps.sendLimits.takeAsked(requester, destination);
  const part = sentPartOf(user, destination);
  if (!(await deps.sendLimits.tryTakeSent(requester, destination, part))) {
    const waits = await deps.sendLimits.waits(destination);
    throw new AppError(
      'rate_limited',
      `Too many codes were sent to ${destination} in the last hour (OTP_MAX_SENDS_PER_HOUR), and support's own first one of the hour went already.`,
      Math.max(1, waits[part]),
    );
  }
  if (sms) await deps.smsBudget.take(sms);
  const now = deps.clock();
  // the channel named, when its brake has room
  const taken = isPhoneChannel(channel) ? await deps.road.first(destination, channel) : channel;
  await sendCode(
    deps,
    { userId: user.id, firstName: user.first_name, locale: user.locale, purpose, channel: taken, destination, now },
    (trx) =>
      recordAccountEvent(trx, deps, {
        userId: user.id,
        type: 'code_sent_by_support',
        actor: 'admin',
        requester,
        facts: { purpose, channel: taken },
        at: now,
      }),
  );
  return { ...codeExpiry(deps, channel, now), destination };
}

/** Ends every session of the person (each device signs in again); how many were live. */
export async function endSessionsOfPerson(
  deps: Pick<Services, 'db' | 'config' | 'clock'>,
  userId: string,
  requester: Requester,
): Promise<number> {
  const user = await findUserById(deps.db, userId);
  if (!user) throw noSuchAccount();
  return endSessions(deps, userId, { actor: 'admin', requester, reason: 'support' });
}

/**
 * Takes an address off the suppression list (the person fixed their mailbox), with the
 * suppression_lifted event of the account it belongs to in the same transaction; an address of no
 * account has no log to write to. Returns that account, if any; not_found when it was not on the list.
 */
export async function liftSuppression(
  deps: Pick<Services, 'db' | 'config' | 'clock'>,
  address: string,
  requester: Requester,
): Promise<{ userId: string | null }> {
  const now = deps.clock();
  return deps.db.transaction().execute(async (trx) => {
    if (!(await unsuppress(trx, address)))
      throw new AppError('not_found', 'That address is not on the suppression list.');
    const email = normalizeEmail(address);
    const user = await findUserByEmail(trx, email);
    if (user)
      await recordAccountEvent(trx, deps, {
        userId: user.id,
        type: 'suppression_lifted',
        actor: 'admin',
        requester,
        facts: { address: email },
        at: now,
      });
    return { userId: user?.id ?? null };
  });
}
