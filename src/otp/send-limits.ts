import type { Config } from '../config/settings.ts';
import type { LimiterFactory } from '../platform/rate-limit.ts';
import { AppError } from '../shared/errors.ts';
import { mailboxKey } from '../shared/addresses.ts';
import type { Requester } from '../shared/trust-proxy.ts';

/**
 * The resend cooldown and the hourly cap, counted in two parts so that a stranger can spend only
 * their own:
 * - what an asker asked for (`takeAsked`): per asker (a signed-in account, else the requester's
 *   network) and destination, and answered (429) to that asker alone, for a known address and an
 *   unknown one alike;
 * - what a destination was really sent (`tryTakeSent`): per mailbox or number, spent only when a
 *   code goes out, so asking for an address that has no account costs its owner nothing. Counted in
 *   two parts: codes to an address or number proven on the account they are for (a reset, an unlock)
 *   and the rest (registrations, new numbers), so that strangers who register spellings of an inbox,
 *   or text a number from their own accounts, never spend what its owner's recovery may be sent.
 *   Within a part's cooldown or past its hourly cap, a code still goes out when it is the first of
 *   that part this asker had sent there this hour: whatever strangers had sent, the owner's own ask gets a code of their own
 *   account (sends to one inbox are bounded by twice the cap plus the networks asking).
 * Both count per mailbox (`mailboxKey`): the spellings of one inbox share one budget.
 */
export interface SendLimits {
  /** Takes one ask of `asker` for a destination, or throws rate_limited (429, Retry-After). */
  takeAsked(asker: Asker, destination: string): Promise<void>;
  /** Takes one send of a part to the destination for `asker`: false when neither the cap nor the asker's own first send allows it. */
  tryTakeSent(asker: Asker, destination: string, part: SentPart): Promise<boolean>;
  /** Seconds until each part's hourly cap of codes sent to the destination has room again (0: open); spends nothing. */
  waits(destination: string): Promise<Record<SentPart, number>>;
}

/**
 * Who asks: a signed-in account (its own, so that strangers on its network, a carrier's CGNAT, never
 * spend it), else the anonymous requester's network.
 */
export type Asker = Requester | { account: string };
const askerKey = (asker: Asker) => ('account' in asker ? `account:${asker.account}` : asker.network);

/** `proven`: to the address or number verified on the account the code is for; `new`: anything else. */
export type SentPart = 'proven' | 'new';

type LimitConfig = Pick<Config, 'OTP_RESEND_COOLDOWN_SECONDS' | 'OTP_MAX_SENDS_PER_HOUR'>;

const HOUR = 3600;

export function createSendLimits(config: LimitConfig, makeLimiter: LimiterFactory): SendLimits {
  const askedCooldown = makeLimiter({
    keyPrefix: 'otp-asked-cooldown',
    points: 1,
    durationSeconds: config.OTP_RESEND_COOLDOWN_SECONDS,
  });
  const askedHourly = makeLimiter({
    keyPrefix: 'otp-asked-hourly',
    points: config.OTP_MAX_SENDS_PER_HOUR,
    durationSeconds: HOUR,
  });
  const sentCooldown = makeLimiter({
    keyPrefix: 'otp-sent-cooldown',
    points: 1,
    durationSeconds: config.OTP_RESEND_COOLDOWN_SECONDS,
  });
  const sent = makeLimiter({
    keyPrefix: 'otp-sent-hourly',
    points: config.OTP_MAX_SENDS_PER_HOUR,
    durationSeconds: HOUR,
  });
  // One point per (asker, mailbox) an hour: the asker's first send there.
  const firstSent = makeLimiter({ keyPrefix: 'otp-sent-first', points: 1, durationSeconds: HOUR });
  const took = (consumed: Promise<void>) =>
    consumed.then(
      () => true,
      (err: unknown) => {
        if (err instanceof AppError && err.code === 'rate_limited') return false;
        throw err;
      },
    );
  return {
    async takeAsked(asker, destination) {
      const key = `${askerKey(asker)}|${mailboxKey(destination)}`;
      await askedCooldown.consume(key, 'A code was sent here a moment ago. Wait before asking for another.');
      await askedHourly.consume(key, 'Too many codes were asked for here in the last hour. Try again later.');
    },
    async tryTakeSent(asker, destination, part) {
      const key = `${part}|${mailboxKey(destination)}`;
      const first = await took(firstSent.consume(`${askerKey(asker)}|${key}`, ''));
      const room = (await took(sentCooldown.consume(key, ''))) && (await took(sent.consume(key, '')));
      // a first send let through within the cooldown (where the hour was not counted) still counts in the hour
      if (first && !room) await took(sent.consume(key, ''));
      return first || room;
    },
    async waits(destination) {
      const key = mailboxKey(destination);
      return { proven: await sent.waitSeconds(`proven|${key}`), new: await sent.waitSeconds(`new|${key}`) };
    },
  };
}
