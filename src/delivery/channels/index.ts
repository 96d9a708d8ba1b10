import type { Config } from '../../config.ts';
import type { Channel } from '../../vocabulary.ts';
import { createHttpSmsChannel } from './generic-sms.ts';
import { createSmtpChannel } from './smtp.ts';
import { createTwilioChannel } from './twilio.ts';
import { DeliveryError, type DeliveryChannel } from './types.ts';

export type Channels = Record<Channel, DeliveryChannel>;

const noSmsProvider: DeliveryChannel = {
  channel: 'sms',
  provider: 'none',
  status: () => ({
    configured: false,
    settings: { SMS_PROVIDER: 'missing' },
    placeholders: [],
    missing: ['SMS_PROVIDER'],
    problem: 'SMS provider not configured (SMS_PROVIDER not set)',
  }),
  async send() {
    throw new DeliveryError('SMS provider not configured (SMS_PROVIDER not set)', true);
  },
};

export function createChannels(config: Config): Channels {
  const sms =
    config.SMS_PROVIDER === 'twilio'
      ? createTwilioChannel(config)
      : config.SMS_PROVIDER === 'http'
        ? createHttpSmsChannel(config)
        : noSmsProvider;
  return { email: createSmtpChannel(config), sms };
}
