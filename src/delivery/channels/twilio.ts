import type { Config } from '../../config/settings.ts';
import type { Message } from '../../platform/db/schema.ts';
import { postToProvider } from './provider-http.ts';
import { channelStatus, type DeliveryChannel } from './types.ts';

type TwilioConfig = Pick<Config, 'SMS_API_URL' | 'SMS_API_KEY' | 'SMS_ACCOUNT_SID' | 'SMS_FROM' | 'PUBLIC_URL'>;

/** Where Twilio posts a message's status (signed with the auth token): asked for only when PUBLIC_URL is set. */
export const TWILIO_STATUS_PATH = '/api/v1/webhooks/twilio/status';
export const twilioStatusCallback = (publicUrl: string): string => `${publicUrl}${TWILIO_STATUS_PATH}`;
/** Where Twilio posts a call's progress and how it ended (signed alike): asked for only when PUBLIC_URL is set. */
export const TWILIO_CALL_STATUS_PATH = '/api/v1/webhooks/twilio/call-status';
export const twilioCallStatusCallback = (publicUrl: string): string => `${publicUrl}${TWILIO_CALL_STATUS_PATH}`;

/** Twilio's HTTP Basic auth: the account SID and the auth token (or API key). */
export const twilioAuthorization = (config: Pick<Config, 'SMS_ACCOUNT_SID' | 'SMS_API_KEY'>): string =>
  `Basic ${Buffer.from(`${config.SMS_ACCOUNT_SID}:${config.SMS_API_KEY}`).toString('base64')}`;

/** A resource of one Twilio account, as WhatsApp and calls reach it. */
export type TwilioResource = 'Messages.json' | 'Calls.json';
const TWILIO_MESSAGES_URL = /\/Accounts\/[^/]+\/Messages\.json$/;

/**
 * The URL of a resource of the Twilio account that WhatsApp or calls use, and the setting it comes
 * from (doctor and the channel's status name it): the channel's own setting when set; else SMS's
 * Messages URL with the resource's name when SMS goes by Twilio (that URL names the account even
 * when SMS_ACCOUNT_SID is an API key's SK… SID); else Twilio's URL for SMS_ACCOUNT_SID.
 */
export function twilioAccountUrl(
  config: Pick<Config, 'SMS_PROVIDER' | 'SMS_API_URL' | 'SMS_ACCOUNT_SID'>,
  own: { setting: string; value: string | undefined },
  resource: TwilioResource,
): { setting: string; url: string | undefined } {
  if (own.value) return { setting: own.setting, url: own.value };
  if (config.SMS_PROVIDER === 'twilio' && config.SMS_API_URL && TWILIO_MESSAGES_URL.test(config.SMS_API_URL))
    return { setting: 'SMS_API_URL', url: config.SMS_API_URL.replace(/Messages\.json$/, resource) };
  return {
    setting: 'SMS_ACCOUNT_SID',
    url: config.SMS_ACCOUNT_SID && `https://api.twilio.com/2010-04-01/Accounts/${config.SMS_ACCOUNT_SID}/${resource}`,
  };
}

/** Twilio's Messages API: a form POST with Basic auth (account SID, auth token or key). */
export function createTwilioChannel(config: TwilioConfig): DeliveryChannel {
  return {
    channel: 'sms',
    provider: 'twilio',
    status: () =>
      channelStatus(
        {
          SMS_API_URL: config.SMS_API_URL,
          SMS_ACCOUNT_SID: config.SMS_ACCOUNT_SID,
          SMS_API_KEY: config.SMS_API_KEY,
          SMS_FROM: config.SMS_FROM,
        },
        'SMS',
      ),
    async send(message: Message) {
      const body = await postToProvider('Twilio', config.SMS_API_URL!, {
        headers: { authorization: twilioAuthorization(config), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          To: message.recipient,
          From: config.SMS_FROM!,
          Body: message.body_text,
          ...(config.PUBLIC_URL ? { StatusCallback: twilioStatusCallback(config.PUBLIC_URL) } : {}),
        }).toString(),
      });
      return { providerId: (body as { sid?: string })?.sid ?? null };
    },
  };
}
