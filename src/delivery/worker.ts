import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Clock } from '../clock.ts';
import { addSeconds } from '../clock.ts';
import type { Database, Message } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Channels } from './channels/index.ts';
import { DeliveryError } from './channels/types.ts';
import { retryDelaySeconds } from './backoff.ts';
import { logCapturedCode } from './dev-fallback.ts';
import { claimDue, outboxSignal, recordOutcome } from './outbox.ts';
import { callingCodeOf } from '../addresses.ts';

export interface WorkerDeps {
  db: Kysely<Database>;
  config: Pick<
    Config,
    'isDevelopment' | 'DELIVERY_LEASE_SECONDS' | 'DELIVERY_MAX_ATTEMPTS' | 'DELIVERY_RETRY_BASE_SECONDS' | 'DELIVERY_POLL_MS'
  >;
  channels: Channels;
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
}

export interface Worker {
  /** Claims and delivers one batch; the number of messages handled. */
  runOnce(): Promise<number>;
  start(): void;
  /** Stops claiming and waits for the messages in flight. */
  stop(): Promise<void>;
}

const BATCH = 20;

export function createWorker(deps: WorkerDeps): Worker {
  const { db, config, channels, logger, clock, metrics } = deps;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const onEnqueued = () => wake?.();

  async function deliver(message: Message): Promise<void> {
    const channel = channels[message.channel];
    const started = Date.now();
    const state = channel.status();
    let outcome: Parameters<typeof recordOutcome>[2];
    try {
      if (!state.configured) throw new DeliveryError(state.problem ?? `${message.channel} is not configured`, false);
      const { providerId } = await channel.send(message);
      outcome = { status: 'sent', providerId };
      if (message.channel === 'sms') metrics.smsSent.inc({ calling_code: callingCodeOf(message.recipient) });
      logger.info({ message_id: message.id, channel: message.channel, provider: channel.provider, ms: Date.now() - started }, 'message sent');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const permanent = err instanceof DeliveryError && err.permanent;
      if (config.isDevelopment) {
        logCapturedCode(logger, message, reason);
        outcome = { status: 'captured', reason };
      } else if (permanent || message.attempts >= config.DELIVERY_MAX_ATTEMPTS) {
        outcome = { status: 'failed', reason };
        logger.error({ message_id: message.id, channel: message.channel, attempts: message.attempts, reason }, 'message failed');
      } else {
        const retryAt = addSeconds(clock(), retryDelaySeconds(message.attempts, config.DELIVERY_RETRY_BASE_SECONDS));
        outcome = { status: 'queued', reason, retryAt };
        logger.warn({ message_id: message.id, channel: message.channel, attempts: message.attempts, reason, retry_at: retryAt }, 'message send failed, will retry');
      }
    }
    if (state.configured) {
      const seconds = (Date.now() - started) / 1000;
      metrics.sendSeconds.observe({ channel: message.channel, provider: channel.provider, outcome: outcome.status === 'sent' ? 'sent' : 'error' }, seconds);
    }
    metrics.messagesFinished.inc({ channel: message.channel, status: outcome.status });
    await recordOutcome(db, message.id, outcome, clock(), config.isDevelopment);
  }

  async function runOnce(): Promise<number> {
    const batch = await claimDue(db, clock(), config.DELIVERY_LEASE_SECONDS, BATCH);
    await Promise.all(batch.map((m) => deliver(m).catch((err) => logger.error({ err, message_id: m.id }, 'recording a delivery failed'))));
    return batch.length;
  }

  async function run(): Promise<void> {
    while (running) {
      let handled = 0;
      try {
        handled = await runOnce();
      } catch (err) {
        logger.error({ err }, 'delivery worker could not claim messages');
      }
      if (handled === 0 && running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.DELIVERY_POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  }

  return {
    runOnce,
    start() {
      if (running) return;
      running = true;
      outboxSignal.on('enqueued', onEnqueued);
      loop = run();
    },
    async stop() {
      running = false;
      outboxSignal.off('enqueued', onEnqueued);
      wake?.();
      await loop;
    },
  };
}
