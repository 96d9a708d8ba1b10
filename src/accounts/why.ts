import type { Services } from '../runtime/services.ts';
import { isNotice, TEST_DESTINATION, type Channel } from '../shared/vocabulary.ts';
import { isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { listDeliveryLog } from '../delivery/delivery-log.ts';
import type { LoggedMessage } from '../contract/delivery-log.ts';
import { suppressionOf, type Suppression } from '../delivery/suppressions.ts';
import { personView } from '../delivery/hints.ts';
import type { Blocking, WhyReport } from '../contract/why-report.ts';
import type { User } from '../platform/db/schema.ts';
import { smsTo } from '../otp/sms-budget.ts';
import { findUserByAddress, toPublicUser } from './users.ts';
import { liveSessionCount } from './sessions.ts';

const RECENT = 20;

/** The support lookup behind `panic-api why`: recent messages, suppression, limits blocking now, and the diagnosis. */
export async function why(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'sendLimits' | 'smsBudget'>,
  to: string,
): Promise<WhyReport> {
  const channel: Channel = isEmailAddress(to) ? 'email' : 'sms';
  const destination = channel === 'email' ? normalizeEmail(to) : normalizePhone(to, deps.config.DEFAULT_PHONE_REGION);
  const [account, messages, suppression] = await Promise.all([
    findUserByAddress(deps.db, destination),
    listDeliveryLog(deps.db, { recipients: [destination], limit: RECENT }),
    channel === 'email' ? suppressionOf(deps.db, destination) : undefined,
  ]);
  const blocking = await blockingLimits(deps, destination, channel === 'sms' ? account : undefined);
  // the newest code that went or goes: one the road withdrew (its code arrived another way) says nothing,
  // and a notice (an email changed) is no code
  const codes = messages.filter((m) => !isNotice(m.purpose));
  const latest = codes.find((m) => m.status !== 'withdrawn') ?? codes[0];
  return {
    destination,
    channel,
    account: account
      ? { ...toPublicUser(account), live_sessions: await liveSessionCount(deps.db, account.id, deps.clock()) }
      : null,
    messages: messages.map((m) => ({ ...m, hint: personView(m.channel, m.status, deps.config.isDevelopment).hint })),
    suppression: suppression ? { ...suppression, created_at: suppression.created_at.toISOString() } : null,
    blocking,
    diagnosis: diagnose(deps, { channel, destination, account: account !== undefined, latest, suppression, blocking }),
    hint: latest
      ? personView(latest.channel, latest.status, deps.config.isDevelopment, latest.last_error).hint
      : 'No code has been sent to you yet. Ask for one, then wait a minute.',
  };
}

async function blockingLimits(
  deps: Pick<Services, 'config' | 'sendLimits' | 'smsBudget'>,
  destination: string,
  smsAccount: User | undefined,
): Promise<Blocking[]> {
  const send = await deps.sendLimits.waits(destination);
  const found: Blocking[] = [
    // The resend cooldown is each asker's own (their network and this destination): not this destination's.
    {
      limit:
        "hourly cap of resets and unlocks sent to this destination (past it, only each network's first of the hour)",
      setting: 'OTP_MAX_SENDS_PER_HOUR',
      wait_seconds: send.proven,
    },
    {
      limit: "hourly cap of other codes sent to this destination (past it, only each network's first of the hour)",
      setting: 'OTP_MAX_SENDS_PER_HOUR',
      wait_seconds: send.new,
    },
  ];
  if (smsAccount) {
    const sms = await deps.smsBudget.waits(smsTo(smsAccount, destination));
    const { range, sent, verified } = sms.rangeHealth;
    found.push(
      { limit: "the account's SMS an hour", setting: 'SMS_MAX_PER_ACCOUNT_PER_HOUR', wait_seconds: sms.account },
      { limit: "the account's new numbers a day", setting: 'SMS_NEW_NUMBERS_PER_DAY', wait_seconds: sms.newNumbers },
      {
        limit: `the SMS brake for ${sms.part === 'proven' ? 'the verified number' : 'new numbers'}: past it a code goes only to a request from a network that sent fewer than ${deps.config.SMS_BRAKE_NETWORK_SHARE} past it this hour (SMS_BRAKE_NETWORK_SHARE)`,
        setting: sms.part === 'proven' ? 'SMS_PROVEN_MAX_PER_HOUR' : 'SMS_MAX_PER_HOUR',
        wait_seconds: sms.ceiling,
      },
      {
        limit: `the SMS brake's number range ${range}: ${verified} of ${sent} codes verified (today and yesterday)`,
        setting: 'SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT',
        wait_seconds: sms.range,
      },
    );
  }
  return found.filter((b) => b.wait_seconds > 0);
}

interface Facts {
  channel: Channel;
  destination: string;
  account: boolean;
  latest: LoggedMessage | undefined;
  suppression: Suppression | undefined;
  blocking: Blocking[];
}

/** Limits past which a code still goes to an asker's first ask, or its network's share: not a refusal of everyone. */
const PARTIAL = new Set(['OTP_MAX_SENDS_PER_HOUR', 'SMS_MAX_PER_HOUR', 'SMS_PROVEN_MAX_PER_HOUR']);

type Diagnosis = WhyReport['diagnosis'];

/** The operator's diagnosis: the first of these that holds is what keeps the code from the person. */
function diagnose(deps: Pick<Services, 'config'>, f: Facts): Diagnosis {
  if (f.suppression) {
    return {
      cause: `${f.destination} is on the suppression list since ${f.suppression.created_at.toISOString()} after a ${f.suppression.kind}: ${f.suppression.reason}. Codes to it are not sent (they end suppressed).`,
      fix: 'Once the person has fixed their mailbox, take it off the list.',
      action: 'lift_suppression',
    };
  }
  const m = f.latest;
  const endedBadly = m && !['queued', 'sending', 'sent', 'delivered', 'captured'].includes(m.status);
  const listed = (bs: Blocking[]) => bs.map((b) => `${b.limit} (${b.setting}, ${b.wait_seconds} s)`).join('; ');
  const hard = f.blocking.filter((b) => !PARTIAL.has(b.setting));
  if (hard.length && !endedBadly) {
    const wait = Math.max(...hard.map((b) => b.wait_seconds));
    return {
      cause: `New codes to ${f.destination} are refused right now (429 rate_limited or 503): ${listed(hard)}.`,
      fix: `Ask the person to wait ${wait} s before asking again; the code already sent (below) is still the one to use.`,
    };
  }
  if (f.blocking.length && !endedBadly) {
    const wait = Math.max(...f.blocking.map((b) => b.wait_seconds));
    return {
      cause: `Limits past which only some asks get a code are reached for ${f.destination}: ${listed(f.blocking)}. An ask from a network that has not had its code (or its share) this hour still gets one.`,
      fix: `Ask the person to use the newest code already sent (below; an email's long code works for an hour), or to ask again from their own connection (mobile data), or to wait ${wait} s.`,
    };
  }
  if (!m) {
    return f.account
      ? {
          cause: `No code was sent to ${f.destination} in the last ${deps.config.MESSAGE_RETENTION_DAYS} days.`,
          fix: 'Ask the person to request a code now, then run why again.',
        }
      : {
          cause: `No account has ${f.destination}, so no code was sent: the public answer is the same as for a real account, on purpose.`,
          fix: "Check the spelling with the person (and the number's country); they may have registered with another address.",
        };
  }
  const at = m.sent_at ?? m.created_at;
  // The provider's code in plain words (delivery/reasons.ts), from the newest event that has one.
  const known = [...m.events].reverse().find((e) => e.diagnosis)?.diagnosis;
  const inWords = known ? ` ${known.cause}` : '';
  switch (m.status) {
    case 'queued':
      return m.attempts === 0
        ? {
            cause: `The newest code (${m.purpose}) has waited since ${m.created_at} for its first attempt.`,
            fix: 'Is a delivery worker running (DELIVERY_WORKER=on, or `panic-api worker`)?',
            action: 'see_queue',
          }
        : {
            cause: `The newest code failed ${m.attempts} attempt(s), the last with: ${m.last_error}.${inWords} Next attempt at ${m.next_attempt_at}.`,
            fix: known?.fix ?? 'Run `panic-api doctor` on the server: it checks the provider without sending anything.',
          };
    case 'sending':
      return { cause: 'The newest code is being sent right now.', fix: 'Run why again in a few seconds.' };
    case 'sent':
      return {
        cause: `The newest code was accepted by the provider at ${at} (id ${m.provider_id ?? 'unknown'}); no receipt has come back.`,
        fix: deps.config.PUBLIC_URL
          ? 'Carriers and mail servers can take minutes. Ask the person to check the ' +
            (f.channel === 'sms' ? 'number.' : 'spam folder.')
          : "Set PUBLIC_URL (and the webhook secrets) so providers report delivery; meanwhile the provider's console shows the message by its id.",
      };
    case 'delivered':
      return {
        cause: `The newest code was delivered at ${at}, by the provider's receipt.`,
        fix:
          f.channel === 'sms'
            ? 'Ask the person to look in their messages, including filtered or unknown senders.'
            : 'Ask the person to look in spam, junk and promotions; it came from FROM_EMAIL.',
      };
    case 'expired':
      return {
        cause: `The newest code expired before it could be sent; the last attempt failed with: ${m.last_error ?? 'no error recorded'}.${inWords}`,
        fix: known?.fix ?? 'Run `panic-api doctor` on the server, then ask the person for a new code.',
      };
    case 'withdrawn':
      return {
        cause: `The newest message (${m.channel}) was not needed: its code reached the person on an earlier channel, or was used, before its turn came.`,
        fix: 'Nothing to fix: the events of the earlier messages show where the code went.',
      };
    case 'captured':
      if (m.last_error === TEST_DESTINATION)
        return {
          cause: `${f.destination} is a test destination (TEST_OTP_DESTINATIONS): its code is the fixed one, and nothing is sent to it.`,
          fix: 'Give the app reviewer the fixed code; once the review is over, remove the destination from TEST_OTP_DESTINATIONS.',
        };
      return {
        cause: 'Development: the code was not sent; it is in the dev inbox and the log.',
        fix: 'Run `panic-api inbox --to ' + f.destination + '`, or configure the channel.',
      };
    default:
      return {
        cause: `The newest code ended ${m.status}: ${m.last_error ?? 'no reason recorded'}.${inWords}`,
        fix:
          known?.fix ??
          (f.channel === 'sms'
            ? 'Check the number with the person; if it is right, try another number or email.'
            : 'Check the address with the person, or use another one.'),
      };
  }
}
