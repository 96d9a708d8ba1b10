import type { Config } from '../config/settings.ts';
import type { Locale } from '../shared/locales.ts';
import type { Channel, MessagePurpose, Notice, OtpPurpose } from '../shared/vocabulary.ts';
import { autofillLines } from './autofill.ts';
import type { CodeView, NoticeView, TemplateSet, TemplateView } from './templates.ts';
import type { Part } from './template-files.ts';

export interface CodeMessageInput {
  code: string;
  /** The code's long twin (emails): `{{long_code}}`. */
  longCode?: string;
  expiresInMinutes: number;
  firstName?: string;
  locale: Locale;
}

export interface NoticeInput {
  /** The account's new address, already masked by the caller: the notice goes to the old one. */
  maskedEmail: string;
  changedAt: Date;
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

/** A moment as every language's notice shows it: UTC, to the minute ("2031-05-04 10:00 UTC"). */
export const noticeTime = (at: Date): string => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export type ComposeSettings = Pick<Config, 'APP_NAME' | 'SUPPORT_URL' | 'PUBLIC_URL' | 'ANDROID_APP_HASH'>;

export interface Composer {
  compose(purpose: OtpPurpose, channel: Channel, input: CodeMessageInput): RenderedMessage;
  /** A notice's message: the same templates' layout, and no code. */
  composeNotice(notice: Notice, channel: Channel, input: NoticeInput): RenderedMessage;
}

/** Writes a code's message, or a notice, from the templates in the person's locale. */
export function createComposer(templates: TemplateSet, settings: ComposeSettings): Composer {
  const write = (purpose: MessagePurpose, channel: Channel, view: TemplateView, locale: Locale): RenderedMessage => {
    let writtenIn = locale;
    const fill = (part: Part) => {
      const template = templates.find(purpose, part, locale);
      if (!template) throw new Error(`no ${part} template for ${purpose} (not even in English)`);
      writtenIn = template.locale;
      return templates.render(template, view);
    };
    const plain = (text: string) => ({ subject: null, text, html: null, locale, writtenIn });
    if (channel === 'sms') {
      // the lines that let a phone fill the code in, when there is one
      const autofill = 'code' in view ? autofillLines(view.code, settings) : [];
      return plain([fill('sms').trim(), ...autofill].join('\n'));
    }
    if (channel === 'whatsapp') return plain(fill('whatsapp').trim());
    // a call's words, one line: TwiML's <Say> reads them as they are
    if (channel === 'voice') return plain(fill('voice').replace(/\s+/g, ' ').trim());
    // one line, whatever the file's line breaks: a subject is a header
    const subject = fill('subject').replace(/\s+/g, ' ').trim();
    const text = `${fill('text').trim()}\n`;
    return { subject, text, html: fill('html'), locale, writtenIn };
  };
  const common = (firstName: string | undefined) => ({
    app_name: settings.APP_NAME,
    first_name: firstName || undefined,
    support_url: settings.SUPPORT_URL,
  });
  return {
    compose(purpose, channel, input) {
      const view: CodeView = {
        ...common(input.firstName),
        code: input.code,
        long_code: input.longCode,
        expires_in_minutes: input.expiresInMinutes,
        spoken_code: spokenCode(input.code),
      };
      return write(purpose, channel, view, input.locale);
    },
    composeNotice(notice, channel, input) {
      const view: NoticeView = {
        ...common(input.firstName),
        masked_email: input.maskedEmail,
        changed_at: noticeTime(input.changedAt),
      };
      return write(notice, channel, view, input.locale);
    },
  };
}
