import type { Config } from '../config/settings.ts';
import type { Locale } from '../shared/locales.ts';
import type { Channel, OtpPurpose } from '../shared/vocabulary.ts';
import { autofillLines } from './autofill.ts';
import type { TemplateSet, TemplateView } from './templates.ts';
import type { Part } from './template-files.ts';

export interface CodeMessageInput {
  code: string;
  /** The code's long twin (emails): `{{long_code}}`. */
  longCode?: string;
  expiresInMinutes: number;
  firstName?: string;
  locale: Locale;
}

export interface RenderedMessage {
  subject: string | null;
  text: string;
  html: string | null;
  /** The locale asked for (a part missing in it was written in English). */
  locale: Locale;
  /** The language the words are written in: for a call, the voice that speaks them. */
  writtenIn: Locale;
}

/** Digits one by one, a pause between each, so a call reads a code slowly: "1, 2, 3". */
export const spokenCode = (code: string): string => code.split('').join(', ');

export type ComposeSettings = Pick<Config, 'APP_NAME' | 'SUPPORT_URL' | 'PUBLIC_URL' | 'ANDROID_APP_HASH'>;

export interface Composer {
  compose(purpose: OtpPurpose, channel: Channel, input: CodeMessageInput): RenderedMessage;
}

/** Writes a code's message from the templates in the person's locale. */
export function createComposer(templates: TemplateSet, settings: ComposeSettings): Composer {
  return {
    compose(purpose, channel, input) {
      const view: TemplateView = {
        code: input.code,
        long_code: input.longCode,
        expires_in_minutes: input.expiresInMinutes,
        app_name: settings.APP_NAME,
        first_name: input.firstName || undefined,
        support_url: settings.SUPPORT_URL,
        spoken_code: spokenCode(input.code),
      };
      let writtenIn = input.locale;
      const fill = (part: Part) => {
        const template = templates.find(purpose, part, input.locale);
        if (!template) throw new Error(`no ${part} template for ${purpose} (not even in English)`);
        writtenIn = template.locale;
        return templates.render(template, view);
      };
      const plain = (text: string) => ({ subject: null, text, html: null, locale: input.locale, writtenIn });
      if (channel === 'sms') return plain([fill('sms').trim(), ...autofillLines(input.code, settings)].join('\n'));
      if (channel === 'whatsapp') return plain(fill('whatsapp').trim());
      // a call's words, one line: TwiML's <Say> reads them as they are
      if (channel === 'voice') return plain(fill('voice').replace(/\s+/g, ' ').trim());
      // one line, whatever the file's line breaks: a subject is a header
      const subject = fill('subject').replace(/\s+/g, ' ').trim();
      const text = `${fill('text').trim()}\n`;
      return { subject, text, html: fill('html'), locale: input.locale, writtenIn };
    },
  };
}
