import type { Config } from '../config.ts';
import type { LimiterFactory } from '../rate-limit.ts';
import { AppError } from '../errors.ts';

export interface SendLimits {
  /** Takes a send for a destination (address or phone, known or not) or throws rate_limited. */
  take(destination: string): Promise<void>;
  /**
   * The same for a destination resolved from an account (an unlock code to the phone of an email
   * typed): false when spent, so the caller can skip the send and still answer like for anyone.
   */
  tryTake(destination: string): Promise<boolean>;
}

/** The resend cooldown and the hourly cap, both per destination. */
export function createSendLimits(
  config: Pick<Config, 'OTP_RESEND_COOLDOWN_SECONDS' | 'OTP_MAX_SENDS_PER_HOUR'>,
  makeLimiter: LimiterFactory,
): SendLimits {
  const cooldown = makeLimiter({
    keyPrefix: 'otp-cooldown',
    points: 1,
    durationSeconds: config.OTP_RESEND_COOLDOWN_SECONDS,
  });
  const hourly = makeLimiter({ keyPrefix: 'otp-hourly', points: config.OTP_MAX_SENDS_PER_HOUR, durationSeconds: 3600 });
  const take = async (destination: string) => {
    const key = destination.toLowerCase();
    await cooldown.consume(key, 'A code was sent here a moment ago. Wait before asking for another.');
    await hourly.consume(key, 'Too many codes were sent here in the last hour. Try again later.');
  };
  return {
    take,
    async tryTake(destination) {
      try {
        await take(destination);
        return true;
      } catch (err) {
        if (err instanceof AppError && err.code === 'rate_limited') return false;
        throw err;
      }
    },
  };
}
