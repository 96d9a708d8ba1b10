import type { Config } from '../../config/settings.ts';
import type { Channel } from '../../shared/vocabulary.ts';
import { createHttpSmsChannel } from './generic-sms.ts';
import { createMetaWhatsAppChannel } from './meta-whatsapp.ts';
import { createSmtpChannel } from './smtp.ts';
import { createTwilioChannel } from './twilio.ts';
import { createTwilioVoiceChannel } from './twilio-voice.ts';
import { createTwilioWhatsAppChannel } from './twilio-whatsapp.ts';
import { DeliveryError, type DeliveryChannel } from './types.ts';
import { createFailoverChannel, type FailoverChannel } from './failover.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';

export type Channels = Record<Channel, DeliveryChannel>;

/** A channel whose provider setting is not set: it sends nothing, and says which setting to set. */
const unconfigured = (channel: Channel, setting: string, what: string): DeliveryChannel => ({
  channel,
  provider: 'none',
  status: () => ({
    configured: false,
    settings: { [setting]: 'missing' },
    placeholders: [],
    missing: [setting],
    problem: `${what} provider not configured (${setting} not set)`,
  }),
  async send() {
    throw new DeliveryError(`${what} provider not configured (${setting} not set)`, true);
  },
});

const noSmsProvider = unconfigured('sms', 'SMS_PROVIDER', 'SMS');
const noWhatsAppProvider = unconfigured('whatsapp', 'WHATSAPP_PROVIDER', 'WhatsApp');
const noVoiceProvider = unconfigured('voice', 'VOICE_PROVIDER', 'Voice');

export function createChannels(config: Config, clock: Clock = systemClock): Channels {
  const sms = smsChannel(config.SMS_PROVIDER, config);
  const email = createSmtpChannel(config);
  const smsFallback = smsChannel(config.SMS_FALLBACK_PROVIDER, {
    SMS_API_URL: config.SMS_FALLBACK_API_URL,
    SMS_API_KEY: config.SMS_FALLBACK_API_KEY,
    SMS_ACCOUNT_SID: config.SMS_FALLBACK_ACCOUNT_SID,
    SMS_FROM: config.SMS_FALLBACK_FROM,
    PUBLIC_URL: config.PUBLIC_URL,
  });
  const emailFallback = config.SMTP_FALLBACK_SERVER
    ? createSmtpChannel({
        ...config,
        SMTP_SERVER: config.SMTP_FALLBACK_SERVER,
        SMTP_PORT: config.SMTP_FALLBACK_PORT,
        SMTP_USERNAME: config.SMTP_FALLBACK_USERNAME,
        SMTP_PASSWORD: config.SMTP_FALLBACK_PASSWORD,
      })
    : undefined;
  return {
    email: emailFallback
      ? createFailoverChannel(email, asFallback(emailFallback, 'SMTP_', email.provider), clock)
      : email,
    sms: config.SMS_FALLBACK_PROVIDER
      ? createFailoverChannel(sms, asFallback(smsFallback, 'SMS_', sms.provider), clock)
      : sms,
    whatsapp: whatsAppChannel(config),
    voice: config.VOICE_PROVIDER === 'twilio' ? createTwilioVoiceChannel(config) : noVoiceProvider,
  };
}

function whatsAppChannel(config: Config): DeliveryChannel {
  if (config.WHATSAPP_PROVIDER === 'twilio') return createTwilioWhatsAppChannel(config);
  if (config.WHATSAPP_PROVIDER === 'meta') return createMetaWhatsAppChannel(config);
  return noWhatsAppProvider;
}

type SmsSettings = Pick<Config, 'SMS_API_URL' | 'SMS_API_KEY' | 'SMS_ACCOUNT_SID' | 'SMS_FROM' | 'PUBLIC_URL'>;

function smsChannel(provider: Config['SMS_PROVIDER'], settings: SmsSettings): DeliveryChannel {
  if (provider === 'twilio') return createTwilioChannel(settings);
  if (provider === 'http') return createHttpSmsChannel(settings);
  return noSmsProvider;
}

/**
 * The second provider under its own names: its settings are the *_FALLBACK_* ones (so doctor and
 * the delivery page name them), and a provider of the primary's kind is told apart as "<kind>-fallback".
 */
function asFallback(channel: DeliveryChannel, prefix: string, primaryProvider: string): DeliveryChannel {
  const rename = (name: string) => name.replace(prefix, `${prefix}FALLBACK_`);
  return {
    ...channel,
    provider: channel.provider === primaryProvider ? `${channel.provider}-fallback` : channel.provider,
    status() {
      const s = channel.status();
      return {
        ...s,
        settings: Object.fromEntries(Object.entries(s.settings).map(([k, v]) => [rename(k), v])),
        placeholders: s.placeholders.map(rename),
        missing: s.missing.map(rename),
        problem: s.problem && `fallback: ${s.problem.replace(new RegExp(`\\b${prefix}`, 'g'), `${prefix}FALLBACK_`)}`,
      };
    },
  };
}

/** Every provider's breaker, on the channels that have two providers. */
export const breakerReadings = (channels: Channels) =>
  Object.values(channels).flatMap((c) =>
    'breakers' in c ? (c as FailoverChannel).breakers().map((b) => ({ channel: c.channel, ...b })) : [],
  );
