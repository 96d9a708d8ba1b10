import type { Config } from '../config.ts';
import type { LimiterFactory } from '../rate-limit.ts';
import { AppError } from '../errors.ts';

export interface SendLimits {
  /** Takes a send for a destination as typed (address or phone, known or not) or throws rate_limited. */
  take(destination: string): Promise<void>;
  /**
   * The same limits, counted apart, for the destination an account resolves to (the verified phone
   * behind an email typed for an unlock code): false when spent, so the caller skips the send and
   * still answers like for anyone. Apart, because spending the typed budget of a phone because of its
   * email would show, on the phone's next request, which email it belongs to.
   */
  tryTakeResolved(destination: string): Promise<boolean>;
  /** Seconds until each limit lets one more code go to the destination (0: open); spends nothing. */
  waits(destination: string): Promise<{ cooldown: number; hourly: number }>;
}

type LimitConfig = Pick<Config, 'OTP_RESEND_COOLDOWN_SECONDS' | 'OTP_MAX_SENDS_PER_HOUR'>;

/** The resend cooldown and the hourly cap, both per destination. */
export function createSendLimits(config: LimitConfig, makeLimiter: LimiterFactory): SendLimits {
  const typed = limitsFor('otp', config, makeLimiter);
  const resolved = limitsFor('otp-resolved', config, makeLimiter);
  return {
    take: typed.take,
    async waits(destination) {
      // a code is held back by what was typed and by what it resolved to: the longer wait counts
      const [a, b] = await Promise.all([typed.waits(destination), resolved.waits(destination)]);
      return { cooldown: Math.max(a.cooldown, b.cooldown), hourly: Math.max(a.hourly, b.hourly) };
    },
    async tryTakeResolved(destination) {
      try {
        await resolved.take(destination);
        return true;
      } catch (err) {
        if (err instanceof AppError && err.code === 'rate_limited') return false;
        throw err;
      }
    },
  };
}

function limitsFor(prefix: string, config: LimitConfig, makeLimiter: LimiterFactory) {
  const cooldown = makeLimiter({ keyPrefix: `${prefix}-cooldown`, points: 1, durationSeconds: config.OTP_RESEND_COOLDOWN_SECONDS });
  const hourly = makeLimiter({ keyPrefix: `${prefix}-hourly`, points: config.OTP_MAX_SENDS_PER_HOUR, durationSeconds: 3600 });
  return {
    async take(destination: string) {
      const key = destination.toLowerCase();
      await cooldown.consume(key, 'A code was sent here a moment ago. Wait before asking for another.');
      await hourly.consume(key, 'Too many codes were sent here in the last hour. Try again later.');
    },
    async waits(destination: string) {
      const key = destination.toLowerCase();
      return { cooldown: await cooldown.waitSeconds(key), hourly: await hourly.waitSeconds(key) };
    },
  };
}
