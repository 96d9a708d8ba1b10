import type { Config } from '../config/settings.ts';
import type { Clock } from '../shared/clock.ts';
import type { Db } from '../platform/db/client.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Passwords } from '../platform/passwords.ts';
import type { LimiterFactory } from '../platform/rate-limit.ts';
import type { Composer } from '../messages/compose.ts';
import type { Channels } from '../delivery/channels/index.ts';
import type { MessageSeal } from '../delivery/sealed-body.ts';
import type { SendLimits } from '../otp/send-limits.ts';
import type { SmsBudget } from '../otp/sms-budget.ts';
import type { PhoneRoad } from '../otp/road.ts';

/**
 * The service container: what the composition root (create-runtime.ts) builds once per process and
 * hands down. Every function that needs services takes the part it uses, `Pick<Services, …>`, as its
 * first argument: its signature says what it touches, and a test gives it just that. Only this type
 * crosses the layers upward (architecture.test.ts allows `import type` of this file alone).
 */
export interface Services {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** argon2id behind the hash gate. */
  passwords: Passwords;
  /** The limit stores (Redis, or memory in one process). */
  makeLimiter: LimiterFactory;
  sendLimits: SendLimits;
  smsBudget: SmsBudget;
  /** The seal of the code a queued message holds. */
  seal: MessageSeal;
  /** The writer of messages from their templates. */
  composer: Composer;
  channels: Channels;
  /** A phone code's way across channels: the next one when a channel fails (otp/road.ts). */
  road: PhoneRoad;
}
