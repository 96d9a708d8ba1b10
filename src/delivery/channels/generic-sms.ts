import type { Config } from '../../config/settings.ts';
import type { Message } from '../../platform/db/schema.ts';
import { postToProvider } from './provider-http.ts';
import { channelStatus, type DeliveryChannel } from './types.ts';

type HttpSmsConfig = Pick<Config, 'SMS_API_URL' | 'SMS_API_KEY'>;

/** A generic SMS gateway: JSON {to, body} with a Bearer key. */
export function createHttpSmsChannel(config: HttpSmsConfig): DeliveryChannel {
  return {
    channel: 'sms',
    provider: 'http',
    status: () => channelStatus({ SMS_API_URL: config.SMS_API_URL, SMS_API_KEY: config.SMS_API_KEY }, 'SMS'),
    async send(message: Message) {
      const body = await postToProvider('SMS', config.SMS_API_URL!, {
        headers: { authorization: `Bearer ${config.SMS_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: message.recipient, body: message.body_text }),
      });
      const b = body as { id?: unknown; sid?: unknown; message_id?: unknown } | null;
      const id = b?.id ?? b?.sid ?? b?.message_id;
      return { providerId: id === undefined || id === null ? null : String(id) };
    },
  };
}
