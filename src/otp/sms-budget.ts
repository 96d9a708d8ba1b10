import type { Config } from '../config/settings.ts';
import type { Logger } from '../platform/logger.ts';
import type { BrakePart, Metrics } from '../platform/metrics.ts';
import type { Limiter, LimiterFactory } from '../platform/rate-limit.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import type { User } from '../platform/db/schema.ts';
import { numberRangeOf } from '../shared/addresses.ts';
import { AppError } from '../shared/errors.ts';

/**
 * What SMS may cost, beyond the per-number cooldown and hourly cap: a budget per account (SMS an hour,
 * new numbers a day), so one account cannot text a list of numbers, and the brake, so a pumping attack
 * that gets past everything else still has a ceiling on the bill.
 *
 * The brake is partitioned so that whoever fills it spends only their own part, never everyone's SMS:
 * - by what the SMS is for: a code to the number already verified on the account (proven) counts
 *   under SMS_PROVEN_MAX_PER_HOUR, a code to any other number (new) under SMS_MAX_PER_HOUR;
 * - below its ceiling a part lets everything through, as a town behind one carrier's CGNAT needs;
 * - past it, a request still passes while its requester's network (a /24, a /48) has sent fewer than
 *   SMS_BRAKE_NETWORK_SHARE past that ceiling this hour, and, for a new number, while the number's
 *   range is healthy: fewer than SMS_BRAKE_RANGE_PROBATION codes sent to it today and yesterday, or
 *   at least SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT of them verified (pumped codes are never used).
 */
export interface SmsBudget {
  /**
   * Unlock by SMS, before anyone knows whether the identifier has an account: past the proven ceiling,
   * spends one of the requester network's share or refuses (503), for a known and an unknown identifier
   * alike, so the answer tells nothing. The code that follows, if any, is then 'admitted'.
   */
  admitUnlock(requester: Requester): Promise<void>;
  /** Refuses (429, or 503 for the brake) when one more SMS to phone would exceed a budget; spends nothing. */
  check(sms: SmsRequest): Promise<void>;
  /**
   * check(), then spends one SMS of the account, the number once a day if it is new, and one of its
   * part of the brake (past the ceiling, one of the network's share). Nothing is spent when check
   * refuses, so a refused request costs the account nothing.
   */
  take(sms: SmsRequest): Promise<void>;
  /** An SMS code was verified: when it went to a new number, its range counts one more verified. */
  verified(sms: SmsTarget): Promise<void>;
  /** What holds back the next SMS of this kind, whoever asks (0: nothing); spends nothing. */
  waits(sms: SmsTarget): Promise<SmsWaits>;
}

/** One SMS code as the budget sees it: its account, where it goes, and what that number is to the account. */
export interface SmsTarget {
  userId: string;
  /** Where the code goes (E.164). */
  phone: string;
  /** The account's own phone, and whether it is verified there. */
  account: { phone: string; verified: boolean };
}

export interface SmsRequest extends SmsTarget {
  /** Who asked; 'admitted' when admitUnlock has already charged them. */
  requester: Requester | 'admitted';
}

export interface SmsWaits {
  /** Seconds until the account may text again, and try a new number. */
  account: number;
  newNumbers: number;
  /** The brake's part this SMS counts in, and the seconds until its ceiling rolls over (0: below it). */
  part: SmsPart;
  ceiling: number;
  /** Past the ceiling, the seconds it still lasts when the number's range is refused whatever network asks. */
  range: number;
  /** The range, with the codes sent to it and verified, today and yesterday. */
  rangeHealth: RangeHealth;
}

/** proven: to the number verified on the account; new: to any other number. */
export type SmsPart = 'proven' | 'new';

export interface RangeHealth {
  range: string;
  sent: number;
  verified: number;
  healthy: boolean;
}

/** An SMS code of an account to phone. */
export const smsTo = (user: Pick<User, 'id' | 'phone' | 'phone_verified_at'>, phone: string): SmsTarget => ({
  userId: user.id,
  phone,
  account: { phone: user.phone, verified: user.phone_verified_at !== null },
});

const partOf = (sms: SmsTarget): SmsPart =>
  sms.account.verified && sms.phone === sms.account.phone ? 'proven' : 'new';

const DAY_SECONDS = 86_400;
/** A counter's window never refuses: it only counts. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

type BudgetConfig = Pick<
  Config,
  | 'SMS_MAX_PER_ACCOUNT_PER_HOUR'
  | 'SMS_NEW_NUMBERS_PER_DAY'
  | 'SMS_MAX_PER_HOUR'
  | 'SMS_PROVEN_MAX_PER_HOUR'
  | 'SMS_BRAKE_NETWORK_SHARE'
  | 'SMS_BRAKE_RANGE_PROBATION'
  | 'SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT'
>;

const REFUSED: Record<BrakePart, string> = {
  new_network:
    "SMS_MAX_PER_HOUR reached, and the requester's network already sent SMS_BRAKE_NETWORK_SHARE new-number SMS past it this hour",
  new_range:
    'SMS_MAX_PER_HOUR reached, and too few of the codes sent to this number range were verified (SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT)',
  proven_network:
    "SMS_PROVEN_MAX_PER_HOUR reached, and the requester's network already sent SMS_BRAKE_NETWORK_SHARE SMS to verified numbers past it this hour",
};

export function createSmsBudget(
  config: BudgetConfig,
  makeLimiter: LimiterFactory,
  logger: Logger,
  metrics: Metrics,
): SmsBudget {
  const perAccount = makeLimiter({
    keyPrefix: 'sms-account',
    points: config.SMS_MAX_PER_ACCOUNT_PER_HOUR,
    durationSeconds: 3600,
  });
  const newNumbers = makeLimiter({
    keyPrefix: 'sms-new-numbers',
    points: config.SMS_NEW_NUMBERS_PER_DAY,
    durationSeconds: DAY_SECONDS,
  });
  // One point per (account, number) a day: a number already counted is not new again today.
  const seenNumbers = makeLimiter({ keyPrefix: 'sms-seen-number', points: 1, durationSeconds: DAY_SECONDS });
  // 'sms-global' is the key the one brake had: a rolling deploy keeps counting the same hour.
  const ceilings: Record<SmsPart, Limiter> = {
    new: makeLimiter({ keyPrefix: 'sms-global', points: config.SMS_MAX_PER_HOUR, durationSeconds: 3600 }),
    proven: makeLimiter({ keyPrefix: 'sms-proven', points: config.SMS_PROVEN_MAX_PER_HOUR, durationSeconds: 3600 }),
  };
  const share = config.SMS_BRAKE_NETWORK_SHARE;
  const pastCeiling = makeLimiter({
    keyPrefix: 'sms-brake-network',
    points: Math.max(share, 1),
    durationSeconds: 3600,
  });
  // Per range and UTC day, kept two days: today and yesterday together are the range's last 24 to 48 h,
  // and the sent and verified counts always cover the same days.
  const rangeSent = makeLimiter({ keyPrefix: 'sms-range-sent', points: UNBOUNDED, durationSeconds: 2 * DAY_SECONDS });
  const rangeVerified = makeLimiter({
    keyPrefix: 'sms-range-verified',
    points: UNBOUNDED,
    durationSeconds: 2 * DAY_SECONDS,
  });
  const today = () => Math.floor(Date.now() / (DAY_SECONDS * 1000));

  const braked = (part: BrakePart, retryAfter: number, detail: Record<string, unknown>) => {
    metrics.smsBrakeRefusals.inc({ part });
    logger.error(
      { part, retry_after_s: retryAfter, ...detail },
      `SMS brake engaged: ${REFUSED[part]}; refused (a pumping attack, or raise the limit)`,
    );
    return new AppError(
      'service_unavailable',
      'Text messages are paused for a while. Try again later, or use email.',
      retryAfter,
    );
  };

  async function rangeHealth(phone: string): Promise<RangeHealth> {
    const range = numberRangeOf(phone);
    const day = today();
    const days = [day, day - 1].map((d) => `${range}:${d}`);
    const total = async (limiter: Limiter) =>
      (await Promise.all(days.map((k) => limiter.count(k)))).reduce((a, b) => a + b, 0);
    const [sent, verified] = await Promise.all([total(rangeSent), total(rangeVerified)]);
    const healthy =
      sent < config.SMS_BRAKE_RANGE_PROBATION || verified * 100 >= config.SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT * sent;
    return { range, sent, verified, healthy };
  }

  /** Past the ceiling of part (ceilingWait > 0): refuses, or (spend) takes one of the network's share. */
  async function passPastCeiling(part: SmsPart, sms: SmsRequest, ceilingWait: number, spend: boolean): Promise<void> {
    if (part === 'new') {
      const health = await rangeHealth(sms.phone);
      if (!health.healthy) throw braked('new_range', ceilingWait, { ...health });
    }
    if (sms.requester === 'admitted') return;
    await passNetwork(part, sms.requester.network, ceilingWait, spend);
  }

  async function passNetwork(part: SmsPart, network: string, ceilingWait: number, spend: boolean): Promise<void> {
    const key = `${part}:${network}`;
    const refuse = (wait: number) => braked(`${part}_network`, Math.min(ceilingWait, wait), { network, share });
    if (share === 0) throw refuse(ceilingWait);
    if (!spend) {
      const wait = await pastCeiling.waitSeconds(key);
      if (wait > 0) throw refuse(wait);
      return;
    }
    try {
      await pastCeiling.consume(key, '');
    } catch (err) {
      if (err instanceof AppError) throw refuse(err.retryAfterSeconds ?? ceilingWait);
      throw err;
    }
  }

  const isNew = async (seenKey: string, sms: SmsRequest) =>
    sms.phone !== sms.account.phone && (await seenNumbers.waitSeconds(seenKey)) === 0;
  // The account's hour of SMS, per part: unlock codes that strangers can ask for its verified number
  // must not spend what the account's own verify-phone may send (a second review found they did).
  const accountKey = (sms: SmsTarget) => `${sms.userId}:${partOf(sms)}`;
  const check = async (sms: SmsRequest) => {
    const hourly = await perAccount.waitSeconds(accountKey(sms));
    if (hourly > 0)
      throw new AppError(
        'rate_limited',
        'This account asked for too many text messages in the last hour. Try again later.',
        hourly,
      );
    if (await isNew(`${sms.userId}:${sms.phone}`, sms)) {
      const daily = await newNumbers.waitSeconds(sms.userId);
      if (daily > 0) {
        throw new AppError(
          'rate_limited',
          'This account tried too many new phone numbers today. Try again tomorrow, or use the number on the account.',
          daily,
        );
      }
    }
    const part = partOf(sms);
    const wait = await ceilings[part].waitSeconds('all');
    if (wait > 0) await passPastCeiling(part, sms, wait, false);
  };
  return {
    check,
    async admitUnlock(requester) {
      const wait = await ceilings.proven.waitSeconds('all');
      if (wait > 0) await passNetwork('proven', requester.network, wait, true);
    },
    async verified(sms) {
      // Only new numbers: a stranger can trigger codes to proven ones (unlock), and they were never the range's question.
      if (partOf(sms) === 'new') await rangeVerified.consume(`${numberRangeOf(sms.phone)}:${today()}`, '');
    },
    async waits(sms) {
      const part = partOf(sms);
      const [account, newNumbersWait, ceiling, health] = await Promise.all([
        perAccount.waitSeconds(accountKey(sms)),
        newNumbers.waitSeconds(sms.userId),
        ceilings[part].waitSeconds('all'),
        rangeHealth(sms.phone),
      ]);
      const range = part === 'new' && !health.healthy ? ceiling : 0;
      return { account, newNumbers: newNumbersWait, part, ceiling, range, rangeHealth: health };
    },
    async take(sms) {
      await check(sms);
      const seenKey = `${sms.userId}:${sms.phone}`;
      // Between check and spend another request may have spent the last point: consume() still refuses.
      await perAccount.consume(
        accountKey(sms),
        'This account asked for too many text messages in the last hour. Try again later.',
      );
      if (await isNew(seenKey, sms)) {
        await newNumbers.consume(
          sms.userId,
          'This account tried too many new phone numbers today. Try again tomorrow, or use the number on the account.',
        );
        await seenNumbers.consume(seenKey, '');
      }
      const part = partOf(sms);
      try {
        await ceilings[part].consume('all', '');
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        await passPastCeiling(part, sms, err.retryAfterSeconds ?? 3600, true);
      }
      if (part === 'new') await rangeSent.consume(`${numberRangeOf(sms.phone)}:${today()}`, '');
    },
  };
}
