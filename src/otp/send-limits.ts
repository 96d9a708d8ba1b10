import type { Config } from '../config.ts';
import type { LimiterFactory } from '../rate-limit.ts';

export interface SendLimits {
  /** Takes a send for a destination (address or phone, known or not) or throws rate_limited. */
  take(destination: string): Promise<void>;
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
  return {
    async take(destination) {
      const key = destination.toLowerCase();
      await cooldown.consume(key, 'A code was sent here a moment ago. Wait before asking for another.');
      await hourly.consume(key, 'Too many codes were sent here in the last hour. Try again later.');
    },
  };
}
