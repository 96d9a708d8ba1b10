import type { Config } from '../config.ts';
import type { LimiterFactory } from '../rate-limit.ts';
import { AppError } from '../errors.ts';
import { mailboxKey } from '../addresses.ts';
import type { Requester } from '../trust-proxy.ts';

/**
 * The resend cooldown and the hourly cap, counted in two parts so that a stranger can spend only
 * their own:
 * - what an asker asked for (`takeAsked`): per asker (a network, or an account) and destination, and
 *   answered (429) to that asker alone, for a known address and an unknown one alike;
 * - what a destination was really sent (`tryTakeSent`): per mailbox or number, spent only when a
 *   code goes out, so asking for an address that has no account, or whose code another limit held
 *   back, costs its owner nothing. Past it nothing new is sent, and the newest message already sent
 *   there is still the one to use (its long code lives for the whole window).
 * Both count per mailbox (`mailboxKey`): the spellings of one inbox share one budget.
 */
export interface SendLimits {
  /** Takes one ask of `asker` for a destination, or throws rate_limited (429, Retry-After). */
  takeAsked(asker: Asker, destination: string): Promise<void>;
  /** Takes one send to the destination: false when its budget is spent (send nothing then). */
  tryTakeSent(destination: string): Promise<boolean>;
  /** Seconds until the destination may be sent one more code (0: open); spends nothing. */
  waits(destination: string): Promise<{ cooldown: number; hourly: number }>;
}

/** Who asks: a signed-in account, or an anonymous requester's network. */
export type Asker = Requester | { userId: string };
const askerKey = (asker: Asker) => ('userId' in asker ? `account:${asker.userId}` : `network:${asker.network}`);

type LimitConfig = Pick<Config, 'OTP_RESEND_COOLDOWN_SECONDS' | 'OTP_MAX_SENDS_PER_HOUR'>;

export function createSendLimits(config: LimitConfig, makeLimiter: LimiterFactory): SendLimits {
  const asked = limitsFor('otp-asked', config, makeLimiter);
  const sent = limitsFor('otp-sent', config, makeLimiter);
  return {
    takeAsked: (asker, destination) => asked.take(`${askerKey(asker)}|${mailboxKey(destination)}`),
    waits: (destination) => sent.waits(mailboxKey(destination)),
    async tryTakeSent(destination) {
      try {
        await sent.take(mailboxKey(destination));
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
    async take(key: string) {
      await cooldown.consume(key, 'A code was sent here a moment ago. Wait before asking for another.');
      await hourly.consume(key, 'Too many codes were asked for here in the last hour. Try again later.');
    },
    async waits(key: string) {
      return { cooldown: await cooldown.waitSeconds(key), hourly: await hourly.waitSeconds(key) };
    },
  };
}
