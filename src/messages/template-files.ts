import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { FALLBACK_LOCALE, isLocale, type Locale } from '../shared/locales.ts';
import { MESSAGE_PURPOSES, type Channel, type MessagePurpose } from '../shared/vocabulary.ts';

/** The parts of a message, each one template file: an email's subject, text and HTML, an SMS's text, a WhatsApp message's, a call's words. */
export const PARTS = {
  subject: { channel: 'email', stem: 'email.subject', ext: 'txt' },
  text: { channel: 'email', stem: 'email.text', ext: 'txt' },
  html: { channel: 'email', stem: 'email', ext: 'html' },
  sms: { channel: 'sms', stem: 'sms', ext: 'txt' },
  // what the dev inbox and the log show: WhatsApp writes the real message from its approved template
  whatsapp: { channel: 'whatsapp', stem: 'whatsapp', ext: 'txt' },
  // the words a call speaks
  voice: { channel: 'voice', stem: 'voice', ext: 'txt' },
} as const satisfies Record<string, { channel: Channel; stem: string; ext: 'txt' | 'html' }>;
export type Part = keyof typeof PARTS;

/** The folder of shared pieces (`{{> name}}`), beside the purposes' folders. */
export const PARTIALS_FOLDER = 'partials';

/** A template's file name: `<channel>.<part>[.<locale>].<ext>`, the part implied by `email.html` and `sms.txt`; English has no suffix. */
export const templateFileName = (part: Part, locale: Locale): string =>
  [PARTS[part].stem, ...(locale === FALLBACK_LOCALE ? [] : [locale]), PARTS[part].ext].join('.');

export interface TemplateFile {
  /** Where it was read, for messages about it. */
  file: string;
  source: string;
}

/** What a templates folder holds: templates by `<purpose>/<part>`, partials by `<name>.<ext>`, each by locale (no suffix: English). */
export interface TemplateFolder {
  /** The operator's folder (TEMPLATES_DIR), whose files win over the built-in ones. */
  override: boolean;
  templates: Map<string, Map<Locale, TemplateFile>>;
  partials: Map<string, Map<Locale, TemplateFile>>;
  /** Files and folders whose names follow no rule of the layout: never read, each with why. */
  ignored: Array<{ file: string; why: string }>;
}

export const templateKey = (purpose: MessagePurpose, part: Part): string => `${purpose}/${part}`;

const FILE = /^(email\.subject|email\.text|email|sms|whatsapp|voice)(?:\.([a-z]{2,3}))?\.(txt|html)$/;
const PARTIAL = /^([a-z0-9][a-z0-9_-]*)(?:\.([a-z]{2,3}))?\.(txt|html)$/;

/** Reads every template of a folder laid out as `<purpose>/<file>` and `partials/<name>[.<locale>].<ext>`. */
export function readTemplateFolder(dir: string, override: boolean): TemplateFolder {
  const found: TemplateFolder = { override, templates: new Map(), partials: new Map(), ignored: [] };
  // a link is followed only when it stays in the folder (a Kubernetes ConfigMap's mount is links to
  // ..data/): one out of it would mail the server's files (a .env, a key) to whoever asks for a code
  const root = realpathSync(dir);
  const outside = (path: string): string | undefined => {
    const real = realpathSync(path);
    const rel = relative(root, real);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
      ? undefined
      : `a link to ${real}, outside the templates folder`;
  };
  const add = (into: TemplateFolder['templates'], key: string, locale: Locale, file: string) => {
    const byLocale = into.get(key) ?? new Map<Locale, TemplateFile>();
    const twin = byLocale.get(locale);
    if (twin) found.ignored.push({ file, why: `${twin.file} is the same template` });
    else byLocale.set(locale, { file, source: readFileSync(file, 'utf8') });
    into.set(key, byLocale);
  };
  for (const folder of readdirSync(dir)) {
    const path = join(dir, folder);
    const away = outside(path);
    if (away) {
      found.ignored.push({ file: path, why: away });
      continue;
    }
    if (!statSync(path).isDirectory()) {
      found.ignored.push({
        file: path,
        why: `not in a purpose's folder (${Object.keys(MESSAGE_PURPOSES).join(', ')}) or ${PARTIALS_FOLDER}/`,
      });
      continue;
    }
    const isPartials = folder === PARTIALS_FOLDER;
    if (!isPartials && !Object.hasOwn(MESSAGE_PURPOSES, folder)) {
      found.ignored.push({
        file: path,
        why: `no such purpose (${Object.keys(MESSAGE_PURPOSES).join(', ')}) or ${PARTIALS_FOLDER}/`,
      });
      continue;
    }
    for (const name of readdirSync(path)) {
      const file = join(path, name);
      const m = (isPartials ? PARTIAL : FILE).exec(name);
      const locale = m?.[2] ?? FALLBACK_LOCALE;
      if (!m || !isLocale(locale)) {
        found.ignored.push({ file, why: m ? `no messages are written in "${locale}"` : 'not a template name' });
        continue;
      }
      const away = outside(file);
      if (away || !statSync(file).isFile()) {
        // not a regular file: a folder, or a FIFO whose read would hang the start
        found.ignored.push({ file, why: away ?? 'not a file' });
        continue;
      }
      if (isPartials) {
        add(found.partials, `${m[1]}.${m[3]}`, locale, file);
        continue;
      }
      const part = (Object.keys(PARTS) as Part[]).find((p) => PARTS[p].stem === m[1] && PARTS[p].ext === m[3]);
      if (!part) {
        found.ignored.push({ file, why: `${m[1]} is a .${m[1] === 'email' ? 'html' : 'txt'} file` });
        continue;
      }
      add(found.templates, templateKey(folder as MessagePurpose, part), locale, file);
    }
  }
  return found;
}
