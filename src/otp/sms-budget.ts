import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { LimiterFactory } from '../rate-limit.ts';
import { AppError } from '../errors.ts';

/**
 * What SMS may cost, beyond the per-number cooldown and hourly cap: a budget per account (SMS an hour,
 * new numbers a day), so one account cannot text a list of numbers, and a global brake per hour, so
 * a pumping attack that gets past everything else still has a ceiling on the bill.
 */
export interface SmsBudget {
  /** Refuses with 503 while the global brake is on; spends nothing. */
  assertOpen(): Promise<void>;
  /** Refuses (429, or 503 for the brake) when one more SMS to phone would exceed a budget; spends nothing. */
  check(userId: string, phone: string, accountPhone: string): Promise<void>;
  /**
   * check(), then spends one SMS of the account, the number once a day if it is new, and one of the
   * global budget. Nothing is spent when anything refuses, so a refused request costs the account nothing.
   */
  take(userId: string, phone: string, accountPhone: string): Promise<void>;
  /** Seconds until the account may text again, try a new number, and until the brake lifts (0: open); spends nothing. */
  waits(userId: string): Promise<{ account: number; newNumbers: number; brake: number }>;
}

type BudgetConfig = Pick<Config, 'SMS_MAX_PER_ACCOUNT_PER_HOUR' | 'SMS_NEW_NUMBERS_PER_DAY' | 'SMS_MAX_PER_HOUR'>;

export function createSmsBudget(config: BudgetConfig, makeLimiter: LimiterFactory, logger: Logger, metrics: Metrics): SmsBudget {
  const perAccount = makeLimiter({ keyPrefix: 'sms-account', points: config.SMS_MAX_PER_ACCOUNT_PER_HOUR, durationSeconds: 3600 });
  const newNumbers = makeLimiter({ keyPrefix: 'sms-new-numbers', points: config.SMS_NEW_NUMBERS_PER_DAY, durationSeconds: 86400 });
  // One point per (account, number) a day: a number already counted is not new again today.
  const seenNumbers = makeLimiter({ keyPrefix: 'sms-seen-number', points: 1, durationSeconds: 86400 });
  const global = makeLimiter({ keyPrefix: 'sms-global', points: config.SMS_MAX_PER_HOUR, durationSeconds: 3600 });

  const braked = (retryAfter: number) => {
    metrics.smsBrakeRefusals.inc();
    logger.error(
      { limit: config.SMS_MAX_PER_HOUR, retry_after_s: retryAfter },
      'SMS brake engaged: SMS_MAX_PER_HOUR reached, SMS codes are refused until the hour rolls over (a pumping attack, or raise the limit)',
    );
    return new AppError('service_unavailable', 'Text messages are paused for a while. Try again later, or use email.', retryAfter);
  };

  const isNew = async (seenKey: string, phone: string, accountPhone: string) =>
    phone !== accountPhone && (await seenNumbers.waitSeconds(seenKey)) === 0;
  const assertOpen = async () => {
    const wait = await global.waitSeconds('all');
    if (wait > 0) throw braked(wait);
  };
  const check = async (userId: string, phone: string, accountPhone: string) => {
    const hourly = await perAccount.waitSeconds(userId);
    if (hourly > 0) throw new AppError('rate_limited', 'This account asked for too many text messages in the last hour. Try again later.', hourly);
    if (await isNew(`${userId}:${phone}`, phone, accountPhone)) {
      const daily = await newNumbers.waitSeconds(userId);
      if (daily > 0) {
        throw new AppError('rate_limited', 'This account tried too many new phone numbers today. Try again tomorrow, or use the number on the account.', daily);
      }
    }
    await assertOpen();
  };
  return {
    assertOpen,
    check,
    async waits(userId) {
      return { account: await perAccount.waitSeconds(userId), newNumbers: await newNumbers.waitSeconds(userId), brake: await global.waitSeconds('all') };
    },
    async take(userId, phone, accountPhone) {
      await check(userId, phone, accountPhone);
      const seenKey = `${userId}:${phone}`;
      // Between check and spend another request may have spent the last point: consume() still refuses.
      await perAccount.consume(userId, 'This account asked for too many text messages in the last hour. Try again later.');
      if (await isNew(seenKey, phone, accountPhone)) {
        await newNumbers.consume(userId, 'This account tried too many new phone numbers today. Try again tomorrow, or use the number on the account.');
        await seenNumbers.consume(seenKey, '');
      }
      try {
        await global.consume('all', '');
      } catch (err) {
        if (err instanceof AppError) throw braked(err.retryAfterSeconds ?? 3600);
        throw err;
      }
    },
  };
}
