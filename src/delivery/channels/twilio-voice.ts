import type { Config } from '../../config/settings.ts';
import type { Message } from '../../platform/db/schema.ts';
import type { Locale } from '../../shared/locales.ts';
import { postToProvider } from './provider-http.ts';
import { twilioAccountUrl, twilioAuthorization, twilioCallStatusCallback } from './twilio.ts';
import { channelStatus, DeliveryError, type DeliveryChannel } from './types.ts';

export type TwilioVoiceConfig = Pick<
  Config,
  'SMS_PROVIDER' | 'SMS_API_URL' | 'SMS_ACCOUNT_SID' | 'SMS_API_KEY' | 'VOICE_API_URL' | 'VOICE_FROM' | 'PUBLIC_URL'
>;

/**
 * The voice that reads a call's words, by the person's language. Afrikaans has one Twilio voice
 * (Google's); isiZulu has none, so its calls are written in English (templates have no zu voice file)
 * and read by the South African English voice, as English ones are.
 */
export const CALL_VOICES: Record<Locale, { voice: string; language: string }> = {
  en: { voice: 'Polly.Ayanda-Neural', language: 'en-ZA' },
  af: { voice: 'Google.af-ZA-Standard-A', language: 'af-ZA' },
  zu: { voice: 'Polly.Ayanda-Neural', language: 'en-ZA' },
};

/** Twilio's bound on an inline `Twiml` parameter. */
export const TWIML_MAX_CHARS = 4000;
/** How long a call rings before it counts as not answered (Twilio's default is 60). */
const RING_SECONDS = 30;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);

/** The TwiML of a call: the composer's words (the code digit by digit, twice) read once in the person's voice. */
export function callTwiml(words: string, locale: Locale | null): string {
  const { voice, language } = CALL_VOICES[locale ?? 'en'];
  return `<Response><Say voice="${voice}" language="${language}">${escapeXml(words)}</Say></Response>`;
}

/** Twilio's Calls API: a call that reads the code (inline TwiML), from VOICE_FROM, on the SMS account unless VOICE_API_URL says otherwise. */
export function createTwilioVoiceChannel(config: TwilioVoiceConfig): DeliveryChannel {
  const api = twilioAccountUrl(config, { setting: 'VOICE_API_URL', value: config.VOICE_API_URL }, 'Calls.json');
  return {
    channel: 'voice',
    provider: 'twilio',
    status: () =>
      channelStatus(
        {
          [api.setting]: api.url,
          SMS_ACCOUNT_SID: config.SMS_ACCOUNT_SID,
          SMS_API_KEY: config.SMS_API_KEY,
          VOICE_FROM: config.VOICE_FROM,
        },
        'Voice',
      ),
    async send(message: Message) {
      const twiml = callTwiml(message.body_text, message.locale);
      if (twiml.length > TWIML_MAX_CHARS) {
        // Twilio would refuse it too, after a round trip; a longer voice template is the operator's to shorten.
        throw new DeliveryError(
          `the call's TwiML is ${twiml.length} characters, more than Twilio's ${TWIML_MAX_CHARS}: shorten the voice template`,
          true,
        );
      }
      const form = new URLSearchParams({
        To: message.recipient,
        From: config.VOICE_FROM!,
        Twiml: twiml,
        Timeout: String(RING_SECONDS),
      });
      if (config.PUBLIC_URL) {
        form.set('StatusCallback', twilioCallStatusCallback(config.PUBLIC_URL));
        // only how the call ended: the road moves on `busy`, `no-answer` or `failed`
        form.set('StatusCallbackEvent', 'completed');
      }
      const body = await postToProvider('Twilio', api.url!, {
        headers: { authorization: twilioAuthorization(config), 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      return { providerId: (body as { sid?: string })?.sid ?? null };
    },
  };
}
