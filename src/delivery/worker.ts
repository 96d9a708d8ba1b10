import { noRoad, type Road } from './road.ts';
import type { Services } from '../runtime/services.ts';
import type { Config } from '../config/settings.ts';
import { addSeconds } from '../shared/clock.ts';
import { CHANNELS, type Channel } from '../shared/vocabulary.ts';
import type { Channels } from './channels/index.ts';
import { DeliveryError } from './channels/types.ts';
import { everyBreakerOpen } from './channels/failover.ts';
import { reasonLabel } from './reasons.ts';
import { retryDelaySeconds } from './backoff.ts';
import { logCapturedCode } from './dev-fallback.ts';
import {
  claimDue,
  RECORD_BATCH,
  recordOutcomes,
  staleCode,
  type ClaimedMessage,
  type Outcome,
  type OutcomeOf,
} from './outbox.ts';
import { callingCodeOf } from '../shared/addresses.ts';
import { type Listen, workerLifecycle } from './worker-lifecycle.ts';

/** What the worker takes of the services, and how it hears of new messages. */
export type WorkerDeps = Pick<Services, 'db' | 'config' | 'channels' | 'logger' | 'clock' | 'metrics' | 'seal'> & {
  /** Wakes the worker the moment a message is committed; without it, it polls. */
  listen?: Listen;
  /** Where a phone code goes next once its message was sent or failed (otp/road.ts). */
  road?: Road;
};

/**
 * The channels a worker claims for: email and SMS always (unconfigured, their messages end failed, or
 * captured in development), WhatsApp and calls when configured or named in a road. A loop on a channel
 * nothing is sent by would only poll the database.
 */
export const servedChannels = (config: Config, channels: Channels): Channel[] =>
  CHANNELS.filter(
    (c) =>
      c === 'email' ||
      c === 'sms' ||
      channels[c].status().configured ||
      [config.PHONE_CHANNELS, ...config.PHONE_CHANNELS_BY_COUNTRY.values()].some((road) =>
        (road as readonly Channel[]).includes(c),
      ),
  );

export interface Worker {
  /** Claims what is due on every channel, delivers it and records it (tests that drive delivery by hand). */
  runOnce(): Promise<number>;
  start(): void;
  /**
   * Stops claiming and waits for the sends in flight, at most SHUTDOWN_TIMEOUT_SECONDS; messages
   * still in flight then go back to the queue.
   */
  stop(): Promise<void>;
}

/** How long to wait before writing an outcome again while the database does not answer. */
const RECORD_RETRY_MS = 500;

/**
 * How many outcomes from the front go in one statement: at most RECORD_BATCH, and a message at most
 * once (its later outcome, written after the earlier one, finds the lease it ended and is refused).
 */
function batchLength(queue: readonly OutcomeOf[]): number {
  const ids = new Set<string>();
  for (const [i, { message }] of queue.entries()) {
    if (i === RECORD_BATCH || ids.has(message.id)) return i;
    ids.add(message.id);
  }
  return queue.length;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { db, config, channels, logger, clock, metrics, seal, road = noRoad } = deps;
  const served = servedChannels(config, channels);
  const life = workerLifecycle({
    keys: served,
    listen: deps.listen,
    wakeByPayload: true,
    what: 'messages',
    shutdownTimeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS,
    logger,
  });
  const { wake, pause } = life;
  /** Claimed messages until their outcome is written; `sending` until their send has ended. */
  const inFlight = new Map<string, { message: ClaimedMessage; sending: boolean; done: Promise<void> }>();
  /** Outcomes the database did not take: written before anything new is claimed. */
  const unrecorded: OutcomeOf[] = [];

  /** Sends one message and decides its next state; its claim read whether its code is live and its address suppressed. */
  async function attempt(stored: ClaimedMessage): Promise<Outcome> {
    const stale = staleCode(stored, clock());
    if (stale) {
      // Right before sending: a code that no longer works would only confuse the person who gets it.
      logger.info(
        { message_id: stored.id, channel: stored.channel, status: stale },
        'message not sent: its code is no longer the one to use',
      );
      metrics.messagesFinished.inc({ channel: stored.channel, status: stale });
      return { status: stale };
    }
    const channel = channels[stored.channel];
    const started = Date.now();
    const state = channel.status();
    let message: ClaimedMessage;
    try {
      message = seal.open(stored);
    } catch (err) {
      // No retry, no fallback can read it: and its code no longer checks under another OTP_SECRET either.
      const reason = (err as Error).message;
      logger.error({ err, message_id: stored.id, channel: stored.channel, reason }, 'message failed');
      metrics.messagesFinished.inc({ channel: stored.channel, status: 'failed' });
      metrics.deliveryFailures.inc({
        channel: stored.channel,
        provider: channel.provider,
        stage: 'attempt',
        reason: 'unreadable',
      });
      return { status: 'failed', reason, attempt: { provider: null, durationMs: 0 } };
    }
    const { suppression } = message;
    if (suppression) {
      // The public answer was the same as for any address; only the delivery log says why nothing went.
      const reason = `not sent: the address is suppressed since ${suppression.created_at.toISOString()} (${suppression.reason})`;
      logger.warn({ message_id: message.id, channel: message.channel, reason }, 'message suppressed');
      metrics.messagesFinished.inc({ channel: message.channel, status: 'suppressed' });
      metrics.outcomes.inc({
        channel: message.channel,
        provider: channel.provider,
        status: 'suppressed',
        destination: metrics.destination(message.recipient),
      });
      return { status: 'suppressed', reason };
    }
    // with a second provider, the one that took or refused it
    let provider = channel.provider;
    const tried = (answer?: DeliveryError['answer']) => ({ provider, durationMs: Date.now() - started, answer });
    let outcome: Outcome;
    try {
      if (!state.configured) throw new DeliveryError(state.problem ?? `${message.channel} is not configured`, false);
      const sent = await channel.send(message);
      provider = sent.provider ?? provider;
      outcome = { status: 'sent', providerId: sent.providerId, attempt: tried() };
      if (message.channel === 'sms') metrics.smsSent.inc({ calling_code: callingCodeOf(message.recipient) });
      logger.info(
        { message_id: message.id, channel: message.channel, provider, ms: Date.now() - started },
        'message sent',
      );
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const permanent = err instanceof DeliveryError && err.permanent;
      if (err instanceof DeliveryError && err.provider) provider = err.provider;
      const attempt = tried(err instanceof DeliveryError ? err.answer : undefined);
      metrics.deliveryFailures.inc({
        channel: message.channel,
        provider,
        stage: 'attempt',
        reason: state.configured ? reasonLabel(provider, attempt.answer ?? {}) : 'not_configured',
      });
      if (config.isDevelopment) {
        logCapturedCode(logger, message, reason);
        outcome = { status: 'captured', reason, attempt };
      } else if (permanent || message.attempts >= config.DELIVERY_MAX_ATTEMPTS) {
        outcome = { status: 'failed', reason, attempt };
        logger.error(
          { err, message_id: message.id, channel: message.channel, attempts: message.attempts, reason },
          'message failed',
        );
      } else {
        const retryAt = addSeconds(clock(), retryDelaySeconds(message.attempts, config.DELIVERY_RETRY_BASE_SECONDS));
        outcome = { status: 'queued', reason, retryAt, attempt };
        logger.warn(
          {
            err,
            message_id: message.id,
            channel: message.channel,
            attempts: message.attempts,
            reason,
            retry_at: retryAt,
          },
          'message send failed, will retry',
        );
      }
    }
    if (state.configured) {
      const seconds = (Date.now() - started) / 1000;
      metrics.sendSeconds.observe(
        { channel: message.channel, provider, outcome: outcome.status === 'sent' ? 'sent' : 'error' },
        seconds,
      );
    }
    metrics.messagesFinished.inc({ channel: message.channel, status: outcome.status });
    return outcome;
  }

  /**
   * Outcomes waiting for their statement, oldest first: one statement writes those that wait while the
   * one before it runs (at most RECORD_BATCH), so that a backlog costs a commit per batch, not per message.
   */
  const waiting: Array<{ message: ClaimedMessage; outcome: Outcome; written: () => void }> = [];
  let writing = false;

  /** Writes an outcome; one the database does not take is kept and written again before any claim. */
  function record(message: ClaimedMessage, outcome: Outcome): Promise<void> {
    return new Promise((written) => {
      waiting.push({ message, outcome, written });
      if (!writing) void writeWaiting();
    });
  }

  /** Never throws; `writing` ends in the same turn as the loop, so no outcome is pushed after its last look. */
  async function writeWaiting(): Promise<void> {
    writing = true;
    while (waiting.length) {
      const batch = waiting.splice(0, batchLength(waiting));
      let held: boolean[] = [];
      try {
        held = await recordOutcomes(db, batch, clock(), config.isDevelopment);
        for (const [i, { message }] of batch.entries())
          if (!held[i])
            logger.warn(
              { message_id: message.id },
              'outcome not recorded: the lease ran out and another worker took the message over',
            );
      } catch (err) {
        unrecorded.push(...batch.map(({ message, outcome }) => ({ message, outcome })));
        logger.warn(
          { err, message_ids: batch.map((b) => b.message.id) },
          'could not record a delivery outcome; it is written again before anything new is claimed',
        );
      }
      // a message is done once its code's road has taken the outcome too; the next batch need not wait
      for (const [i, b] of batch.entries())
        void (held[i] ? takeRoad(b.message, b.outcome) : Promise.resolve()).then(b.written);
    }
    writing = false;
  }

  /** A phone code's next channel: waiting its turn after a send, at once after a failure. */
  async function takeRoad(message: ClaimedMessage, outcome: Outcome): Promise<void> {
    try {
      if (outcome.status === 'sent') await road.sent({ ...message, status: 'sent' });
      else if (outcome.status === 'failed') await road.failed({ ...message, status: 'failed' }, outcome.reason);
      // every provider of the channel paused: the message waits for them, its code need not
      else if (outcome.status === 'queued' && everyBreakerOpen(channels[message.channel]))
        await road.failed({ ...message, status: 'queued' }, `every ${message.channel} provider's breaker is open`);
    } catch (err) {
      // The message's own outcome stands; the person may still ask for another channel.
      logger.error({ err, message_id: message.id }, 'could not move the code to its next channel');
    }
  }

  /** Writes the kept outcomes in order; false while the database still refuses. One flush at a time. */
  let flushing: Promise<boolean> | undefined;
  const flushUnrecorded = (): Promise<boolean> => {
    flushing ??= flushInOrder().finally(() => (flushing = undefined));
    return flushing;
  };
  async function flushInOrder(): Promise<boolean> {
    while (unrecorded.length) {
      const batch = unrecorded.slice(0, batchLength(unrecorded));
      try {
        await recordOutcomes(db, batch, clock(), config.isDevelopment);
      } catch {
        return false;
      }
      unrecorded.splice(0, batch.length);
    }
    return true;
  }

  /**
   * Sends a claimed message and writes its outcome. Its slot frees once the send has ended: its
   * outcome then waits for the next statement of outcomes, while the slot already sends the next one.
   */
  function begin(message: ClaimedMessage): void {
    const flight = { message, sending: true, done: Promise.resolve() };
    const ended = attempt(message).finally(() => {
      flight.sending = false;
      wake(message.channel);
    });
    flight.done = ended
      .then((outcome) => record(message, outcome))
      .catch((err) => logger.error({ err, message_id: message.id }, 'delivering a message failed'))
      .finally(() => inFlight.delete(message.id));
    inFlight.set(message.id, flight);
  }

  const flights = (channel: Channel) => [...inFlight.values()].filter((f) => f.message.channel === channel);

  /** One loop per channel: it claims as many as it has free slots, as soon as they free. */
  async function channelLoop(channel: Channel): Promise<void> {
    while (life.running) {
      const seen = life.seen(channel);
      if (!(await flushUnrecorded())) {
        await pause(channel, RECORD_RETRY_MS, seen);
        continue;
      }
      const mine = flights(channel);
      const free = config.DELIVERY_CONCURRENCY - mine.filter((f) => f.sending).length;
      // Claims wait for half the slots to free: a claim per finished send doubled the queries of a backlog.
      if (free >= Math.ceil(config.DELIVERY_CONCURRENCY / 2)) {
        let claimed: ClaimedMessage[];
        try {
          const ids = mine.map((f) => f.message.id);
          claimed = await claimDue(db, channel, clock(), config.DELIVERY_LEASE_SECONDS, free, ids);
        } catch (err) {
          logger.error({ err, channel }, 'delivery worker could not claim messages');
          await pause(channel, config.DELIVERY_POLL_MS, life.seen(channel));
          continue;
        }
        if (!life.running) {
          // Claimed while stopping: hand them straight back.
          for (const message of claimed) await record(message, requeued(message));
          break;
        }
        for (const message of claimed) begin(message);
        if (claimed.length === free) continue; // there may be more due
      }
      await pause(channel, config.DELIVERY_POLL_MS, seen);
    }
  }

  const requeued = (message: ClaimedMessage): Outcome => ({
    status: 'queued',
    reason: message.last_error ?? 'the worker stopped before this send finished',
    retryAt: clock(),
  });

  return {
    async runOnce() {
      let handled = 0;
      for (const channel of served) {
        const claimed = await claimDue(
          db,
          channel,
          clock(),
          config.DELIVERY_LEASE_SECONDS,
          config.DELIVERY_CONCURRENCY,
        );
        await Promise.all(claimed.map(async (message) => record(message, await attempt(message))));
        handled += claimed.length;
      }
      return handled;
    },
    start() {
      life.start(() => served.map(channelLoop));
    },
    async stop() {
      await life.stop(
        () => [...inFlight.values()].map((f) => f.done),
        async () => {
          const flights = [...inFlight.values()];
          const left = flights.filter((f) => f.sending).map((f) => f.message);
          logger.warn(
            { messages: left.map((m) => m.id) },
            'SHUTDOWN_TIMEOUT_SECONDS passed with sends in flight: their messages go back to the queue',
          );
          for (const message of left) await record(message, requeued(message));
          // outcomes of ended sends still being written (each write is bounded by DB_QUERY_TIMEOUT_MS)
          await Promise.all(flights.filter((f) => !f.sending).map((f) => f.done));
        },
      );
      await flushUnrecorded();
    },
  };
}
