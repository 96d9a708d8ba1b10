import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';
import { FALLBACK_LOCALE, type Locale } from '../shared/locales.ts';
import { isNotice, type Channel, type MessagePurpose } from '../shared/vocabulary.ts';
import {
  PARTS,
  readTemplateFolder,
  templateKey,
  type Part,
  type TemplateFile,
  type TemplateFolder,
} from './template-files.ts';

/** The variables every message's template may use. */
const COMMON_VARIABLES = ['first_name', 'app_name', 'support_url'] as const;
/** The variables a code's template may use: nothing else is filled in. */
export const CODE_VARIABLES = [...COMMON_VARIABLES, 'code', 'long_code', 'spoken_code', 'expires_in_minutes'] as const;
/** The variables a notice's template may use: no code, whose message it is not. */
export const NOTICE_VARIABLES = [...COMMON_VARIABLES, 'masked_email', 'changed_at'] as const;
export const variablesOf = (purpose: MessagePurpose): readonly string[] =>
  isNotice(purpose) ? NOTICE_VARIABLES : CODE_VARIABLES;

interface CommonView {
  app_name: string;
  /** Absent when the account has none (a code for an unknown address): `{{#first_name}}…{{/first_name}}` leaves it out. */
  first_name?: string;
  support_url?: string;
}
export interface CodeView extends CommonView {
  code: string;
  /** The code's long twin, in emails only: `{{#long_code}}…{{/long_code}}` leaves it out elsewhere. */
  long_code?: string;
  /** The code as a call reads it: digit by digit, a pause between each ("1, 2, 3"). */
  spoken_code: string;
  expires_in_minutes: number;
}
export interface NoticeView extends CommonView {
  /** The address the account moved to, partly masked (n***@example.org): the notice goes to the old one. */
  masked_email: string;
  /** When it happened, as "2031-05-04 10:00 UTC". */
  changed_at: string;
}
export type TemplateView = CodeView | NoticeView;

/** The templates in this repository, in the layout TEMPLATES_DIR overrides (from src/messages/ and dist/messages/ alike). */
export const BUILT_IN_TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url));

/** A template that does not parse, or a TEMPLATES_DIR that cannot be read: the service does not start with it. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** One template chosen for a message, with the locale it is written in (English when the asked one lacks it). */
export interface ChosenTemplate extends TemplateFile {
  locale: Locale;
  /** Whether it came from TEMPLATES_DIR. */
  override: boolean;
}

export interface TemplateSet {
  /** What each folder held, the operator's first. */
  readonly folders: readonly TemplateFolder[];
  /** The template of a part in a locale: the operator's, then the built-in one; in that locale, then in English. */
  find(purpose: MessagePurpose, part: Part, locale: Locale): ChosenTemplate | undefined;
  /** A template filled in: HTML-escaped in .html files, as is in .txt ones; partials come from the same locale. */
  render(template: ChosenTemplate, view: TemplateView): string;
  /** Every variable and partial a template uses, its partials' included, and the partials that include themselves (rendering them never ends). */
  uses(template: ChosenTemplate): {
    variables: Set<string>;
    partials: Set<string>;
    missingPartials: Set<string>;
    recursivePartials: Set<string>;
  };
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** What ends text or a quoted attribute, escaped; Mustache's default also turns / and = into entities, which spoils a URL in a text part of the page. */
const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);

/** Reads the built-in templates and TEMPLATES_DIR's, and parses each once: a broken file stops the start, not a send. */
export function loadTemplates(dir?: string): TemplateSet {
  let folders: TemplateFolder[];
  try {
    folders = [...(dir ? [readTemplateFolder(dir, true)] : []), readTemplateFolder(BUILT_IN_TEMPLATES, false)];
  } catch (err) {
    throw new TemplateError(`TEMPLATES_DIR (${dir}) cannot be read: ${(err as Error).message}`, { cause: err });
  }
  for (const folder of folders) {
    for (const byLocale of [...folder.templates.values(), ...folder.partials.values()]) {
      for (const t of byLocale.values()) {
        try {
          Mustache.parse(t.source);
        } catch (err) {
          throw new TemplateError(`${t.file}: ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }
  const choose = (
    pick: (f: TemplateFolder) => Map<Locale, TemplateFile> | undefined,
    locale: Locale,
  ): ChosenTemplate | undefined => {
    for (const l of new Set([locale, FALLBACK_LOCALE])) {
      for (const folder of folders) {
        const found = pick(folder)?.get(l);
        if (found) return { ...found, locale: l, override: folder.override };
      }
    }
    return undefined;
  };
  const extOf = (t: TemplateFile) => (t.file.endsWith('.html') ? 'html' : 'txt');
  const partial = (t: ChosenTemplate, name: string) => choose((f) => f.partials.get(`${name}.${extOf(t)}`), t.locale);

  const uses: TemplateSet['uses'] = (template) => {
    const found = {
      variables: new Set<string>(),
      partials: new Set<string>(),
      missingPartials: new Set<string>(),
      recursivePartials: new Set<string>(),
    };
    // `within`: the partials being walked, outermost first; one met again inside itself recurses without end
    // (the view is flat, so no section stops it): Mustache would overflow the stack rendering it
    const walk = (tokens: Mustache.TemplateSpans, within: readonly string[]) => {
      for (const token of tokens) {
        const [kind, value] = token;
        if (kind === '>') {
          if (within.includes(value)) found.recursivePartials.add(value);
          else if (!found.partials.has(value) && !found.missingPartials.has(value)) {
            const p = partial(template, value);
            if (!p) found.missingPartials.add(value);
            else {
              found.partials.add(value);
              walk(Mustache.parse(p.source), [...within, value]);
            }
          }
        } else if (kind === 'name' || kind === '&' || kind === '#' || kind === '^') {
          if (value !== '.') found.variables.add(value.split('.')[0]);
        }
        if (Array.isArray(token[4])) walk(token[4] as Mustache.TemplateSpans, within);
      }
    };
    walk(Mustache.parse(template.source), []);
    return found;
  };

  return {
    folders,
    find: (purpose, part, locale) => choose((f) => f.templates.get(templateKey(purpose, part)), locale),
    render: (template, view) =>
      Mustache.render(template.source, view, (name) => partial(template, name)?.source, {
        escape: extOf(template) === 'html' ? escapeHtml : (text: string) => text,
      }),
    uses,
  };
}

/** The parts a channel's message is made of. */
export const partsOf = (channel: Channel): Part[] =>
  (Object.keys(PARTS) as Part[]).filter((p) => PARTS[p].channel === channel);
