import type { Config } from '../config/settings.ts';
import type { Locale } from '../shared/locales.ts';
import type { Channel, OtpPurpose } from '../shared/vocabulary.ts';
import { autofillLines } from './autofill.ts';
import type { TemplateSet, TemplateView } from './templates.ts';

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
}

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
      };
      const fill = (part: 'subject' | 'text' | 'html' | 'sms') => {
        const template = templates.find(purpose, part, input.locale);
        if (!template) throw new Error(`no ${part} template for ${purpose} (not even in English)`);
        return templates.render(template, view);
      };
      if (channel === 'sms') {
        const text = [fill('sms').trim(), ...autofillLines(input.code, settings)].join('\n');
        return { subject: null, text, html: null, locale: input.locale };
      }
      // one line, whatever the file's line breaks: a subject is a header
      const subject = fill('subject').replace(/\s+/g, ' ').trim();
      return { subject, text: `${fill('text').trim()}\n`, html: fill('html'), locale: input.locale };
    },
  };
}
