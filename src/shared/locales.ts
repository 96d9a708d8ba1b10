import Negotiator from 'negotiator';

/**
 * The languages every message is written in, with their names. English is the fallback: a template
 * part missing in another language is sent in English.
 */
export const LOCALES = { en: 'English', af: 'Afrikaans', zu: 'isiZulu' } as const;
export type Locale = keyof typeof LOCALES;
export const LOCALE_CODES = Object.keys(LOCALES) as Locale[];
export const FALLBACK_LOCALE: Locale = 'en';

export const isLocale = (value: string): value is Locale => Object.hasOwn(LOCALES, value);

/** The locale a language tag names ('af', 'af-ZA', 'ZU'), or undefined when no message is written in its language. */
export function localeOf(tag: string): Locale | undefined {
  const language = tag.trim().toLowerCase().split(/[-_]/)[0];
  return isLocale(language) ? language : undefined;
}

/**
 * The locale an Accept-Language header prefers among ours (its q-values and regions honoured: af-ZA
 * picks af), or `fallback` when it names none of them or is absent.
 */
export function preferredLocale(acceptLanguage: string | undefined, fallback: Locale): Locale {
  if (!acceptLanguage) return fallback;
  const offered = [fallback, ...LOCALE_CODES.filter((l) => l !== fallback)];
  const [best] = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).languages(offered);
  return best !== undefined && isLocale(best) ? best : fallback;
}
