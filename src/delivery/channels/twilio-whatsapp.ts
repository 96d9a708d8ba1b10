import type { Config } from '../../config/settings.ts';
import type { Message } from '../../platform/db/schema.ts';
import { postToProvider } from './provider-http.ts';
import { twilioAccountUrl, twilioAuthorization, twilioStatusCallback } from './twilio.ts';
import { channelStatus, DeliveryError, type DeliveryChannel } from './types.ts';

export type TwilioWhatsAppConfig = Pick<
  Config,
  | 'SMS_PROVIDER'
  | 'SMS_API_URL'
  | 'SMS_ACCOUNT_SID'
  | 'SMS_API_KEY'
  | 'WHATSAPP_API_URL'
  | 'WHATSAPP_API_KEY'
  | 'WHATSAPP_FROM'
  | 'WHATSAPP_TEMPLATE'
  | 'PUBLIC_URL'
>;

/** A WhatsApp address as Twilio takes it: `whatsapp:+E164` (a setting may already carry the prefix). */
export const whatsAppAddress = (number: string): string =>
  number.startsWith('whatsapp:') ? number : `whatsapp:${number}`;

/**
 * Where a Twilio WhatsApp message goes and with which key: the WHATSAPP_* setting when set, else the
 * SMS account's (a Twilio SMS customer adds only WHATSAPP_PROVIDER, WHATSAPP_FROM and WHATSAPP_TEMPLATE).
 * Each comes with the setting it was read from, for the channel's status and doctor.
 */
export function twilioWhatsAppTarget(config: TwilioWhatsAppConfig) {
  const api = twilioAccountUrl(
    config,
    { setting: 'WHATSAPP_API_URL', value: config.WHATSAPP_API_URL },
    'Messages.json',
  );
  const key = config.WHATSAPP_API_KEY
    ? { setting: 'WHATSAPP_API_KEY', value: config.WHATSAPP_API_KEY }
    : { setting: 'SMS_API_KEY', value: config.SMS_API_KEY };
  return {
    api,
    key,
    authorization: twilioAuthorization({ SMS_ACCOUNT_SID: config.SMS_ACCOUNT_SID, SMS_API_KEY: key.value }),
  };
}

/**
 * WhatsApp through Twilio's Messages API: the approved authentication template (`ContentSid`) with
 * the code as its one variable; WhatsApp writes the words and the copy-code button itself.
 */
export function createTwilioWhatsAppChannel(config: TwilioWhatsAppConfig): DeliveryChannel {
  const { api, key, authorization } = twilioWhatsAppTarget(config);
  return {
    channel: 'whatsapp',
    provider: 'twilio',
    status: () =>
      channelStatus(
        {
          [api.setting]: api.url,
          SMS_ACCOUNT_SID: config.SMS_ACCOUNT_SID,
          [key.setting]: key.value,
          WHATSAPP_FROM: config.WHATSAPP_FROM,
          WHATSAPP_TEMPLATE: config.WHATSAPP_TEMPLATE,
        },
        'WhatsApp',
      ),
    async send(message: Message) {
      if (!message.otp) throw new DeliveryError('the message holds no code for the WhatsApp template', true);
      const body = await postToProvider('Twilio', api.url!, {
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          To: whatsAppAddress(message.recipient),
          From: whatsAppAddress(config.WHATSAPP_FROM!),
          ContentSid: config.WHATSAPP_TEMPLATE!,
          ContentVariables: JSON.stringify({ 1: message.otp }),
          ...(config.PUBLIC_URL ? { StatusCallback: twilioStatusCallback(config.PUBLIC_URL) } : {}),
        }).toString(),
      });
      return { providerId: (body as { sid?: string })?.sid ?? null };
    },
  };
}
