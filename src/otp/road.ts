import { sql, type Transaction } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import type { Services } from '../runtime/services.ts';
import type { Config } from '../config/settings.ts';
import type { Road, RoadMessage } from '../delivery/road.ts';
import { enqueue, OUTBOX_NOTIFY_CHANNEL, REDACTED_BODY } from '../delivery/outbox.ts';
import {
  CHANNEL_LABELS,
  isPhoneChannel,
  PHONE_CHANNELS,
  type OtpPurpose,
  type PhoneChannel,
} from '../shared/vocabulary.ts';
import { addSeconds } from '../shared/clock.ts';
import { callingCodeOf, phoneFacts } from '../shared/addresses.ts';
import { AppError } from '../shared/errors.ts';
import { testCodeFor } from '../config/test-destinations.ts';

export type RoadDeps = Pick<
  Services,
  'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'seal' | 'composer' | 'channels' | 'makeLimiter'
>;

/** Whether a channel can reach a number: a landline takes calls only. */
const reaches = (channel: PhoneChannel, fixedLine: boolean) => !fixedLine || channel === 'voice';

/**
 * The channels a phone code takes to a number, in order: PHONE_CHANNELS (or its country's line of
 * PHONE_CHANNELS_BY_COUNTRY), those configured, those the number can take. With none configured, the
 * first that reaches it, so that it fails (or, in development, is captured) visibly.
 */
export function roadFor(deps: Pick<Services, 'config' | 'channels'>, destination: string): PhoneChannel[] {
  const { country, fixedLine } = phoneFacts(destination);
  const listed = (country && deps.config.PHONE_CHANNELS_BY_COUNTRY.get(country)) || deps.config.PHONE_CHANNELS;
  const reachable = listed.filter((c) => reaches(c, fixedLine));
  const configured = reachable.filter((c) => deps.channels[c].status().configured);
  if (configured.length) return configured;
  return reachable.length ? reachable.slice(0, 1) : fixedLine ? ['voice'] : listed.slice(0, 1);
}

/** The channels a person may ask for: every configured phone channel that reaches the number, listed or not. */
export function askableChannels(deps: Pick<Services, 'config' | 'channels'>, destination: string): PhoneChannel[] {
  const { fixedLine } = phoneFacts(destination);
  const road = roadFor(deps, destination);
  const others = PHONE_CHANNELS.filter(
    (c) => !road.includes(c) && reaches(c, fixedLine) && deps.channels[c].status().configured,
  );
  return [...road, ...others];
}

/** Whether a channel's provider reports delivery here: only then may a timer move a code on (never on a guess). */
export function hasReceipts(config: Config, channel: PhoneChannel): boolean {
  if (!config.PUBLIC_URL) return false;
  if (channel === 'sms')
    return config.SMS_PROVIDER === 'twilio' || (config.SMS_PROVIDER === 'http' && !!config.SMS_WEBHOOK_SECRET);
  if (channel === 'whatsapp')
    return (
      config.WHATSAPP_PROVIDER === 'twilio' || (config.WHATSAPP_PROVIDER === 'meta' && !!config.WHATSAPP_APP_SECRET)
    );
  return config.VOICE_PROVIDER === 'twilio';
}

/** Why a code moved, as the metric's label. */
type MoveReason = 'refused' | 'no_receipt' | 'asked';

export interface PhoneRoad extends Road {
  /**
   * The channel a new phone code takes first: the one asked for, or the first of the number's road
   * whose brake has room (a point of it taken). Throws 429 when the asked channel's brake holds, 503
   * when every channel of the road is braked. A test destination's: without a brake's point.
   */
  first(destination: string, asked?: PhoneChannel): Promise<PhoneChannel>;
  /**
   * The live code on a channel the person names, now: undefined when the code is not live any more;
   * 'taken' when it already went that way (one message per channel per code).
   */
  ask(codeId: string, channel: PhoneChannel): Promise<'sent' | 'taken' | undefined>;
}

export function createRoad(deps: RoadDeps): PhoneRoad {
  const { db, config, clock, logger, metrics } = deps;
  // Global brakes of the channels that cost the most per message: calls to premium numbers are the oldest toll fraud.
  const brakes: Partial<Record<PhoneChannel, ReturnType<typeof deps.makeLimiter>>> = {
    voice: deps.makeLimiter({ keyPrefix: 'brake-voice', points: config.VOICE_MAX_PER_HOUR, durationSeconds: 3600 }),
    whatsapp: deps.makeLimiter({
      keyPrefix: 'brake-whatsapp',
      points: config.WHATSAPP_MAX_PER_HOUR,
      durationSeconds: 3600,
    }),
  };
  /** Takes a point of the channel's brake; false when it holds. */
  const braked = async (channel: PhoneChannel): Promise<boolean> => {
    const brake = brakes[channel];
    if (!brake) return false;
    try {
      await brake.consume('all', `${channel} brake`);
      return false;
    } catch {
      logger.warn({ channel }, `the ${channel} brake holds: codes skip ${channel} until its hour has room`);
      metrics.smsBrakeRefusals.inc({ part: `${channel}_brake` });
      return true;
    }
  };

  /** Seconds until one of the channels' brakes has room again. */
  const brakeWait = async (channels: PhoneChannel[]) =>
    Math.max(1, Math.min(...(await Promise.all(channels.map((c) => brakes[c]?.waitSeconds('all') ?? 1)))));

  /**
   * Queues the live code on `to` (or the next channel of its road it has not taken), due at `dueAt`,
   * in the caller's transaction; the code's row is locked, so two moves of one code take turns.
   * Answers the channel it queued on, or undefined (the code is not live, or no channel is left).
   */
  async function queueOn(
    trx: Transaction<Database>,
    codeId: string,
    opts: { to?: PhoneChannel; dueAt: Date; waitsFor?: string; from?: RoadMessage; reason?: string },
  ): Promise<PhoneChannel | 'taken' | undefined> {
    const now = clock();
    const code = await trx
      .selectFrom('otp_codes')
      .innerJoin('users', 'users.id', 'otp_codes.user_id')
      .select([
        'otp_codes.id',
        'otp_codes.user_id',
        'otp_codes.purpose',
        'otp_codes.destination',
        'otp_codes.sealed_code',
        'otp_codes.expires_at',
        'users.first_name',
        'users.locale',
      ])
      .where('otp_codes.id', '=', codeId)
      .where('otp_codes.consumed_at', 'is', null)
      .where('otp_codes.expires_at', '>', now)
      .forUpdate()
      .executeTakeFirst();
    if (!code?.sealed_code) return undefined;
    const taken = new Set(
      (await trx.selectFrom('messages').select('channel').where('code_id', '=', codeId).execute()).map(
        (m) => m.channel,
      ),
    );
    if (opts.to && taken.has(opts.to)) return 'taken';
    const candidates = opts.to ? [opts.to] : roadFor(deps, code.destination).filter((c) => !taken.has(c));
    let to: PhoneChannel | undefined;
    for (const c of candidates) {
      if (!(await braked(c))) {
        to = c;
        break;
      }
    }
    if (!to) return undefined;
    const otp = deps.seal.openCode(code.sealed_code, code.destination, code.purpose);
    const rendered = deps.composer.compose(code.purpose, to, {
      code: otp,
      expiresInMinutes: Math.ceil(config.OTP_TTL_SECONDS / 60),
      firstName: code.first_name,
      locale: opts.from?.locale ?? code.locale,
    });
    await enqueue(
      trx,
      {
        userId: code.user_id,
        channel: to,
        recipient: code.destination,
        purpose: code.purpose,
        subject: null,
        text: rendered.text,
        html: null,
        otp,
        expiresAt: code.expires_at,
        codeId,
        locale: rendered.locale,
        dueAt: opts.dueAt,
        waitsFor: opts.waitsFor,
      },
      now,
      deps.seal,
    );
    if (opts.from && opts.reason) await movedEvent(trx, opts.from, to, opts.reason, now);
    return to;
  }

  const movedEvent = (trx: Transaction<Database>, from: RoadMessage, to: PhoneChannel, reason: string, now: Date) =>
    trx
      .insertInto('message_events')
      .values({
        message_id: from.id,
        at: now,
        kind: 'moved',
        status: from.status,
        error: `to ${CHANNEL_LABELS[to]}: ${reason}`.slice(0, 1000),
      })
      .execute();

  /** Records on the earlier message that its window passed with no delivery, and counts the move. */
  async function timerMoved(earlierId: string, message: RoadMessage): Promise<void> {
    const earlier = await db
      .selectFrom('messages')
      .select(['id', 'channel', 'code_id', 'status', 'locale'])
      .where('id', '=', earlierId)
      .executeTakeFirst();
    if (!earlier) return;
    const reason = `no delivery receipt within ${config.PHONE_FALLBACK_AFTER_SECONDS} s`;
    await db.transaction().execute((trx) => movedEvent(trx, earlier, message.channel as PhoneChannel, reason, clock()));
    metrics.phoneMoves.inc({ from: earlier.channel, to: message.channel, reason: 'no_receipt' satisfies MoveReason });
  }

  const phoneCodeOf = (message: RoadMessage) =>
    isPhoneChannel(message.channel) && message.code_id ? message.code_id : undefined;

  return {
    async first(destination, asked) {
      // a test destination is sent nothing: its code spends no brake (and takes no road: send-code.ts)
      if (testCodeFor(config, destination, clock())) return asked ?? roadFor(deps, destination)[0];
      for (const channel of asked ? [asked] : roadFor(deps, destination)) if (!(await braked(channel))) return channel;
      const brakedOnes = asked ? [asked] : roadFor(deps, destination);
      throw new AppError(
        asked ? 'rate_limited' : 'service_unavailable',
        `Codes by ${brakedOnes.map((c) => CHANNEL_LABELS[c]).join(' or ')} are paused for the rest of the hour: too many were sent. Ask for another channel, or try again later.`,
        await brakeWait(brakedOnes),
      );
    },

    async sent(message) {
      const codeId = phoneCodeOf(message);
      if (!codeId) return;
      // still waiting for an earlier message when its time came: the timer moved the code here
      if (message.waits_for) await timerMoved(message.waits_for, message);
      if (!hasReceipts(config, message.channel as PhoneChannel)) return;
      const dueAt = addSeconds(clock(), config.PHONE_FALLBACK_AFTER_SECONDS);
      const next = await db.transaction().execute((trx) => queueOn(trx, codeId, { dueAt, waitsFor: message.id }));
      if (next && next !== 'taken')
        logger.info(
          { message_id: message.id, next, due_at: dueAt },
          'the next channel waits for this message to be delivered',
        );
    },

    async failed(message, reason) {
      const codeId = phoneCodeOf(message);
      if (!codeId) return;
      const now = clock();
      const moved = await db.transaction().execute(async (trx) => {
        // The timer's message, already queued: it goes now.
        const waiting = await trx
          .updateTable('messages')
          .set({ next_attempt_at: now, waits_for: null, updated_at: now })
          .where('waits_for', '=', message.id)
          .where('status', '=', 'queued')
          .returning('channel')
          .executeTakeFirst();
        if (waiting) {
          await movedEvent(trx, message, waiting.channel as PhoneChannel, reason, now);
          await sql`SELECT pg_notify(${OUTBOX_NOTIFY_CHANNEL}, ${waiting.channel})`.execute(trx);
          return waiting.channel as PhoneChannel;
        }
        const to = await queueOn(trx, codeId, { dueAt: now, from: message, reason });
        return to === 'taken' ? undefined : to;
      });
      if (moved) {
        metrics.phoneMoves.inc({ from: message.channel, to: moved, reason: 'refused' satisfies MoveReason });
        logger.info({ message_id: message.id, to: moved, reason }, 'the code moved to the next channel');
      }
    },

    async delivered(message) {
      const now = clock();
      const withdrawn = await db.transaction().execute(async (trx) => {
        const rows = await trx
          .updateTable('messages')
          .set({ status: 'withdrawn', updated_at: now, ...(config.isDevelopment ? {} : REDACTED_BODY) })
          .where('waits_for', '=', message.id)
          .where('status', '=', 'queued')
          .returning('id')
          .execute();
        for (const row of rows)
          await trx
            .insertInto('message_events')
            .values({ message_id: row.id, at: now, kind: 'withdrawn', status: 'withdrawn' })
            .execute();
        return rows.length;
      });
      if (withdrawn) logger.info({ message_id: message.id, withdrawn }, 'delivered: the next channel is not needed');
    },

    async ask(codeId, channel) {
      const now = clock();
      const to = await db.transaction().execute((trx) => queueOn(trx, codeId, { to: channel, dueAt: now }));
      if (to === 'taken') return 'taken';
      if (!to) return undefined;
      metrics.phoneMoves.inc({ from: '', to, reason: 'asked' satisfies MoveReason });
      return 'sent';
    },
  };
}

/**
 * Counts a verified phone code, of any purpose (as panic_phone_codes_total counts them issued), under
 * its first channel and the channel that carried it last: the account's one code of that purpose.
 */
export async function countVerifiedPhoneCode(
  deps: Pick<Services, 'db' | 'metrics'>,
  code: { userId: string; purpose: OtpPurpose; destination: string },
): Promise<void> {
  const rows = await deps.db
    .selectFrom('messages')
    .innerJoin('otp_codes', 'otp_codes.id', 'messages.code_id')
    .select(['messages.channel', 'messages.status'])
    .where('otp_codes.user_id', '=', code.userId)
    .where('otp_codes.purpose', '=', code.purpose)
    .orderBy('messages.created_at')
    .execute();
  const took = rows.filter((r) => !['withdrawn', 'queued'].includes(r.status));
  if (!took.length) return;
  deps.metrics.phoneVerified.inc({
    first_channel: took[0].channel,
    channel: took.at(-1)!.channel,
    calling_code: callingCodeOf(code.destination),
  });
}
