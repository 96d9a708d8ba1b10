import type { Message } from '../../platform/db/schema.ts';
import type { Channel } from '../../shared/vocabulary.ts';
import { settingState, type SettingState } from '../../config/placeholders.ts';

export interface ChannelStatus {
  /** True only when every required setting is set and none is a placeholder. */
  configured: boolean;
  /** Each required setting and its state, so doctor and the delivery page can name the culprit. */
  settings: Record<string, SettingState>;
  /** The settings that look copied from an example, and those not set. */
  placeholders: string[];
  missing: string[];
  /** A sentence saying what is wrong, when not configured. */
  problem?: string;
}

export interface SendResult {
  providerId: string | null;
  /** The provider that took it, when the channel has more than one. */
  provider?: string;
}

export interface DeliveryChannel {
  readonly channel: Channel;
  /** Name in logs and the delivery state: 'smtp', 'twilio', 'http'. */
  readonly provider: string;
  status(): ChannelStatus;
  send(message: Message): Promise<SendResult>;
  close?(): Promise<void>;
}

/** What a provider answered to a failed send, kept on the message's history and looked up in delivery/reasons.ts. */
export interface ProviderAnswer {
  /** An HTTP status, or an SMTP reply code. */
  status?: number;
  /** The provider's error code (Twilio's 21211), or the client's (nodemailer's EAUTH, ECONNECTION). */
  code?: string;
  /**
   * The provider's error as it came, unflattened: an SMTP server's reply code and text with the
   * client's code and command; an API's HTTP status and its error body (Twilio's code, message,
   * more_info). Kept on the message's event (delivery/provider-error.ts bounds its size).
   */
  original?: ProviderError;
}

/** A provider's error as plain JSON values. */
export type ProviderError = { [key: string]: unknown };

/** A send that failed; permanent failures are not retried. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly answer: ProviderAnswer = {},
    /** The provider that refused, when the channel has more than one. */
    readonly provider?: string,
    /** `cause`: the provider's or the transport's own error, kept whole for the log. */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

/** The status of a channel from its required settings; `what` names it in the problem sentence. */
export function channelStatus(settings: Record<string, string | undefined>, what: string): ChannelStatus {
  const states = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, settingState(v)]));
  const placeholders = Object.keys(states).filter((k) => states[k] === 'placeholder');
  const missing = Object.keys(states).filter((k) => states[k] === 'missing');
  const found = { settings: states, placeholders, missing };
  if (placeholders.length)
    return {
      ...found,
      configured: false,
      problem: `${what} credentials are placeholder values (${placeholders.join(', ')})`,
    };
  if (missing.length)
    return { ...found, configured: false, problem: `${what} is not configured (${missing.join(', ')} not set)` };
  return { ...found, configured: true };
}
