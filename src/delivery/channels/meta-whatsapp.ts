import type { Config } from '../../config/settings.ts';
import type { Message } from '../../platform/db/schema.ts';
import type { Locale } from '../../shared/locales.ts';
import { postToProvider, type ReadRefusal } from './provider-http.ts';
import { channelStatus, DeliveryError, type DeliveryChannel } from './types.ts';

export type MetaWhatsAppConfig = Pick<
  Config,
  'WHATSAPP_API_URL' | 'WHATSAPP_API_KEY' | 'WHATSAPP_PHONE_NUMBER_ID' | 'WHATSAPP_TEMPLATE'
>;

/**
 * The template language Meta is asked for, by the person's locale. Meta names a template's
 * translations with its own codes (`en_US`, `af`, `zu`, never `en-ZA`): English goes as English (US),
 * the code Meta's authentication-template examples use; Afrikaans and isiZulu have one code each.
 * Each must exist, approved, in the template (doctor checks).
 */
export const META_LANGUAGES: Record<Locale, string> = { en: 'en_US', af: 'af', zu: 'zu' };

const GRAPH_VERSION = 'v21.0';

/** The Cloud API's messages URL: WHATSAPP_API_URL, else Graph's for WHATSAPP_PHONE_NUMBER_ID. */
export const metaMessagesUrl = (config: MetaWhatsAppConfig): string | undefined =>
  config.WHATSAPP_API_URL ??
  (config.WHATSAPP_PHONE_NUMBER_ID &&
    `https://graph.facebook.com/${GRAPH_VERSION}/${config.WHATSAPP_PHONE_NUMBER_ID}/messages`);

/** Meta's limits on a sender: the Cloud API's throughput (130429), one number too often (131056), the app's calls (80007). */
const META_RATE_LIMITS = new Set(['130429', '131056', '80007']);

/** Graph's error answer: `{error: {message, code, error_data: {details}}}`; a rate limit is retried even as a 400. */
export const readGraphRefusal: ReadRefusal = (status, body, text) => {
  const error = (body as { error?: { message?: unknown; code?: unknown; error_data?: { details?: unknown } } } | null)
    ?.error;
  const code = typeof error?.code === 'number' || typeof error?.code === 'string' ? String(error.code) : undefined;
  const words = typeof error?.message === 'string' ? error.message : text.slice(0, 300);
  const details = typeof error?.error_data?.details === 'string' ? error.error_data.details : undefined;
  const detail = [words, details !== undefined && details !== words && !words.includes(details) ? details : undefined]
    .filter(Boolean)
    .join(': ');
  const rateLimited = status === 429 || (code !== undefined && META_RATE_LIMITS.has(code));
  return {
    code,
    detail:
      code === '190'
        ? `${detail}: the access token (WHATSAPP_API_KEY) has expired or is not valid; set a new one (a system user's token does not expire)`
        : detail,
    permanent: status >= 400 && status < 500 && status !== 408 && !rateLimited,
  };
};

/**
 * WhatsApp through Meta's Cloud API: the authentication template named WHATSAPP_TEMPLATE in the
 * person's language, the code as its body parameter and as its copy-code button's.
 */
export function createMetaWhatsAppChannel(config: MetaWhatsAppConfig): DeliveryChannel {
  const url = metaMessagesUrl(config);
  return {
    channel: 'whatsapp',
    provider: 'meta',
    status: () =>
      channelStatus(
        {
          ...(config.WHATSAPP_API_URL
            ? { WHATSAPP_API_URL: config.WHATSAPP_API_URL }
            : { WHATSAPP_PHONE_NUMBER_ID: config.WHATSAPP_PHONE_NUMBER_ID }),
          WHATSAPP_API_KEY: config.WHATSAPP_API_KEY,
          WHATSAPP_TEMPLATE: config.WHATSAPP_TEMPLATE,
        },
        'WhatsApp',
      ),
    async send(message: Message) {
      const code = message.otp;
      if (!code) throw new DeliveryError('the message holds no code for the WhatsApp template', true);
      const text = [{ type: 'text', text: code }];
      const body = await postToProvider(
        'Meta',
        url!,
        {
          headers: { authorization: `Bearer ${config.WHATSAPP_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            messaging_product: 'whatsapp',
            recipient_type: 'individual',
            // the Cloud API takes the number's digits, without the '+'
            to: message.recipient.replace(/^\+/, ''),
            type: 'template',
            template: {
              name: config.WHATSAPP_TEMPLATE,
              language: { code: META_LANGUAGES[message.locale ?? 'en'] },
              components: [
                { type: 'body', parameters: text },
                { type: 'button', sub_type: 'url', index: '0', parameters: text },
              ],
            },
          }),
        },
        readGraphRefusal,
      );
      const id = (body as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
      return { providerId: typeof id === 'string' ? id : null };
    },
  };
}
