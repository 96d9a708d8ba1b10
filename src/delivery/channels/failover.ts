import type { Message } from '../../platform/db/schema.ts';
import type { Clock } from '../../shared/clock.ts';
import type { BreakerPosition } from '../../shared/vocabulary.ts';
import { DeliveryError, type ChannelStatus, type DeliveryChannel, type SendResult } from './types.ts';

/** Temporary failures in a row that open a provider's breaker, and how long it then stays open. */
export const BREAKER_FAILURES = 3;
export const BREAKER_OPEN_SECONDS = 60;
/** A refusal of the account itself (credentials, geo permissions, a Trial account) will not pass sooner. */
export const BREAKER_ACCOUNT_OPEN_SECONDS = 600;

/**
 * Refusals of our account by the provider, not of the recipient: another provider may still deliver.
 * Twilio: 20003 authentication, 20005 account not active, 21212/21606 a From number the account may
 * not use, 21408 geo permissions, 21608 a Trial account texting an unverified number; HTTP 401/403;
 * SMTP AUTH failures (EAUTH, 530, 535).
 */
const ACCOUNT_CODES = new Set(['20003', '20005', '21212', '21606', '21408', '21608', 'EAUTH', 'ENOAUTH']);
export function isAccountRefusal(err: DeliveryError): boolean {
  const { status, code } = err.answer;
  return (
    (code !== undefined && ACCOUNT_CODES.has(code)) ||
    status === 401 ||
    status === 403 ||
    status === 530 ||
    status === 535
  );
}

/**
 * Account refusals decided by the To number (21408 its region, 21608 a Trial account's unverified
 * number): the other provider takes the message, but the breaker stays as it is, since anyone can
 * ask for a code to such a number and would otherwise keep a healthy provider skipped.
 */
const FOR_THIS_NUMBER = new Set(['21408', '21608']);

export interface BreakerState {
  provider: string;
  role: 'primary' | 'fallback';
  state: BreakerPosition;
  failures: number;
  open_until: string | null;
  last_error: string | null;
}

/**
 * One provider's circuit breaker: skipped while open; after the pause, one send probes it (half-open)
 * while the others still go elsewhere, and its outcome closes or reopens it.
 */
function breaker(provider: string, role: BreakerState['role'], clock: Clock) {
  let failures = 0;
  let openUntil: Date | null = null;
  let lastError: string | null = null;
  let probing = false;
  const paused = () => openUntil !== null && clock() < openUntil;
  const state = (): BreakerState['state'] =>
    openUntil === null ? 'closed' : paused() || probing ? 'open' : 'half-open';
  return {
    provider,
    state,
    /** A send is given to this provider: past the pause, it is the probe. */
    begin() {
      if (openUntil !== null && !paused()) probing = true;
    },
    succeeded() {
      failures = 0;
      openUntil = null;
    },
    failed(err: DeliveryError, accountSide: boolean) {
      failures++;
      lastError = err.message;
      const seconds = accountSide
        ? BREAKER_ACCOUNT_OPEN_SECONDS
        : failures >= BREAKER_FAILURES || probing
          ? BREAKER_OPEN_SECONDS
          : 0;
      if (seconds) openUntil = new Date(clock().getTime() + seconds * 1000);
    },
    /** The send is over, whatever it said (a refused recipient says nothing of the provider). */
    ended() {
      probing = false;
    },
    snapshot: (): BreakerState => ({
      provider,
      role,
      state: state(),
      failures,
      open_until: openUntil?.toISOString() ?? null,
      last_error: lastError,
    }),
  };
}

export interface FailoverChannel extends DeliveryChannel {
  breakers(): BreakerState[];
}

/** Whether a channel has breakers and every one is open: nothing it sends can go out for now. */
export const everyBreakerOpen = (channel: DeliveryChannel): boolean =>
  'breakers' in channel && (channel as FailoverChannel).breakers().every((b) => b.state === 'open');

/**
 * A channel with a second provider. A temporary failure or an account-side refusal of one provider
 * sends the message's next attempt through the other (attempts alternate, the primary first); a
 * provider whose breaker is open is skipped while the other can be tried; a refusal of the recipient
 * (an invalid number, a mailbox that does not exist) is final and tried nowhere else.
 */
export function createFailoverChannel(
  primary: DeliveryChannel,
  fallback: DeliveryChannel,
  clock: Clock,
): FailoverChannel {
  const providers = [
    { channel: primary, breaker: breaker(primary.provider, 'primary', clock) },
    { channel: fallback, breaker: breaker(fallback.provider, 'fallback', clock) },
  ];
  const configured = () => providers.filter((p) => p.channel.status().configured);

  /** The provider of this attempt: by turn (a retry goes to the other one), but not one whose breaker is open while another is not. */
  function choose(message: Message) {
    const ready = configured();
    if (ready.length < 2) return ready[0] ?? providers[0];
    const turn = (message.attempts - 1) % 2;
    const ordered = [ready[turn], ready[1 - turn]];
    return ordered.find((p) => p.breaker.state() !== 'open') ?? ordered[0];
  }

  return {
    channel: primary.channel,
    provider: primary.provider,
    status(): ChannelStatus {
      const [a, b] = [primary.status(), fallback.status()];
      if (a.configured || !b.configured) return a;
      return { ...b, settings: { ...a.settings, ...b.settings } };
    },
    async send(message: Message): Promise<SendResult> {
      const chosen = choose(message);
      chosen.breaker.begin();
      try {
        const result = await chosen.channel.send(message);
        chosen.breaker.succeeded();
        return { ...result, provider: chosen.channel.provider };
      } catch (err) {
        if (!(err instanceof DeliveryError)) throw err;
        const accountSide = isAccountRefusal(err);
        const wholeAccount = accountSide && !FOR_THIS_NUMBER.has(err.answer.code ?? '');
        if (wholeAccount || !err.permanent) chosen.breaker.failed(err, wholeAccount);
        // The account's refusal is final for this provider only: the next attempt goes to the other one.
        const permanent = err.permanent && !(accountSide && configured().length > 1);
        throw new DeliveryError(err.message, permanent, err.answer, chosen.channel.provider, {
          cause: err.cause ?? err,
        });
      } finally {
        chosen.breaker.ended();
      }
    },
    breakers: () => providers.map((p) => p.breaker.snapshot()),
    async close() {
      await Promise.all([primary.close?.(), fallback.close?.()]);
    },
  };
}
