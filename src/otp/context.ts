import type { Config } from '../config/settings.ts';
import type { Clock } from '../shared/clock.ts';
import type { Db } from '../platform/db/client.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { SendLimits } from './send-limits.ts';
import type { SmsBudget } from './sms-budget.ts';
import type { Passwords } from '../platform/passwords.ts';
import type { Logger } from '../platform/logger.ts';
import type { OtpRules } from './store.ts';
import type { MessageSeal } from '../delivery/sealed-body.ts';
import type { Composer } from '../messages/compose.ts';

/**
 * What the account flows need: storage, settings, time, password hashing, the send limits, logs,
 * metrics, the seal of the codes a queued message holds, and the writer of messages from their templates.
 */
export interface FlowContext {
  db: Db;
  config: Config;
  clock: Clock;
  passwords: Passwords;
  sendLimits: SendLimits;
  smsBudget: SmsBudget;
  logger: Logger;
  metrics: Metrics;
  seal: MessageSeal;
  composer: Composer;
}

export const otpRules = (config: Config): OtpRules => ({
  secret: config.OTP_SECRET,
  length: config.OTP_LENGTH,
  ttlSeconds: config.OTP_TTL_SECONDS,
  maxAttempts: config.OTP_MAX_ATTEMPTS,
  maxFailuresPerDay: config.OTP_MAX_FAILURES_PER_DAY,
});
