import {
  getCountries,
  getCountryCallingCode,
  parsePhoneNumberFromString,
  isSupportedCountry,
  type CountryCode,
  type NumberType,
} from 'libphonenumber-js/max';
import { AppError } from './errors.ts';

/**
 * The addresses people give us, email and phone: their normal forms and which phones we text.
 * Pure helpers, below both the account flows and delivery. The `max` metadata validates each
 * number against its country's real ranges and tells its type (mobile, premium-rate, …).
 */

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** A destination is an email address when it has an @ (a phone number never does); anything else is read as a phone. */
export const isEmailAddress = (destination: string): boolean => destination.includes('@');

/**
 * An address as a message may show it to someone who should not read it whole: the local part's first
 * character, then `***`, then the domain (`n***@example.org`).
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, Math.min(1, at))}***${email.slice(at)}`;
}

/** Providers known to deliver every spelling with dots in the local part to one mailbox. */
const DOTS_IGNORED = new Set(['gmail.com', 'googlemail.com']);

/**
 * The mailbox an address reaches, for counting what is sent to it: case ignored, a `+tag` dropped for
 * every domain (most providers deliver it to the same inbox), dots ignored where the provider ignores
 * them, googlemail.com read as gmail.com. A phone number (E.164) is its own key. Accounts keep the
 * address as typed: this is only the key of a budget.
 */
export function mailboxKey(destination: string): string {
  const at = destination.lastIndexOf('@');
  if (at < 0) return destination.trim();
  const domain = destination
    .slice(at + 1)
    .trim()
    .toLowerCase();
  let local = destination.slice(0, at).trim().toLowerCase();
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (DOTS_IGNORED.has(domain)) return `${local.replace(/\./g, '')}@gmail.com`;
  return `${local}@${domain}`;
}

const invalidPhone = (input: string) =>
  new AppError(
    'invalid_phone',
    `"${input.slice(0, 40)}" is not a valid phone number. Use the international form, e.g. +27825550123.`,
  );

/** E.164 for a number written locally ('082 555 0123' in ZA) or internationally; invalid numbers are refused. */
export function normalizePhone(input: string, defaultRegion: string): string {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion as CountryCode);
  if (!parsed || !parsed.isValid()) throw invalidPhone(input);
  return parsed.number;
}

/** `*`, or ISO 3166 codes separated by commas; unset means the country of the default region. */
export function parseAllowedCountries(value: string | undefined, defaultRegion: string): ReadonlySet<string> | '*' {
  if (value === undefined) return new Set([defaultRegion.toUpperCase()]);
  if (value.trim() === '*') return '*';
  const codes = value
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  const unknown = codes.filter((c) => !isSupportedCountry(c));
  if (!codes.length || unknown.length) {
    throw new Error(
      `${unknown.length ? `unknown country code ${unknown.join(', ')}` : 'empty'}: use ISO 3166 codes such as ZA,NA,BW, or * for every country`,
    );
  }
  return new Set(codes);
}

/**
 * Types a person answers on. Everything else (premium-rate, shared-cost, UAN, toll-free, pager,
 * personal-number redirects, voicemail) bills or forwards the call elsewhere: the pumping targets.
 */
const PERSONAL_TYPES = new Set<NumberType>(['MOBILE', 'FIXED_LINE_OR_MOBILE', 'FIXED_LINE', 'VOIP']);

const notAllowed = (reason: string) => new AppError('phone_not_allowed', reason);

/**
 * Refuses (phone_not_allowed) a valid E.164 number we will not text: outside the allowed countries,
 * non-geographic (satellite, international premium: no country at all), or not a personal type.
 */
export function assertTextable(e164: string, allowed: ReadonlySet<string> | '*'): void {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed || !parsed.isValid()) throw invalidPhone(e164);
  const country = parsed.country;
  if (!country) {
    throw notAllowed(
      `${parsed.number} is a non-geographic number (satellite or international service): codes are not sent to such numbers.`,
    );
  }
  if (allowed !== '*' && !allowed.has(country)) {
    throw notAllowed(
      `Numbers in ${country} are not accepted here (accepted: ${[...allowed].join(', ')}). Use a phone number from one of those countries.`,
    );
  }
  const type = parsed.getType();
  if (!type || !PERSONAL_TYPES.has(type)) {
    throw notAllowed(
      `${parsed.number} is a ${type ? type.toLowerCase().replace(/_/g, '-') : 'special-service'} number: codes are sent only to personal mobile or landline numbers.`,
    );
  }
}

/** A number's country (ISO 3166) and whether it is a landline, which takes calls but not SMS or WhatsApp. */
export function phoneFacts(e164: string): { country: string | undefined; fixedLine: boolean } {
  const parsed = parsePhoneNumberFromString(e164);
  return { country: parsed?.country, fixedLine: parsed?.getType() === 'FIXED_LINE' };
}

/** A number's national significant number ("825550123" for +27825550123), as a number is written at home without its trunk prefix. */
export function nationalDigitsOf(e164: string): string | undefined {
  return parsePhoneNumberFromString(e164)?.nationalNumber;
}

/** The country calling code of an E.164 number ("27" for +27…), for per-country metrics; '' when unknown. */
export function callingCodeOf(e164: string): string {
  return parsePhoneNumberFromString(e164)?.countryCallingCode ?? '';
}

/** Every country calling code there is ("1", "27", "880"). */
const CALLING_CODES = new Set(getCountries().map((country) => getCountryCallingCode(country)));

/**
 * The calling code an E.164 number or its first digits begin with ("27" for "+278"), '' when none: calling
 * codes are prefix-free, so a number's first four characters name its code, and counts grouped by
 * them in SQL stay one row per code's first digits, not one per number.
 */
export function callingCodeOfPrefix(prefix: string): string {
  const digits = prefix.replace(/^\+/, '');
  for (let n = 1; n <= 3 && n <= digits.length; n++)
    if (CALLING_CODES.has(digits.slice(0, n))) return digits.slice(0, n);
  return '';
}

/**
 * National digits that name a number range. In ZA (9 digits) a block of 100 000 numbers, about 3 000
 * blocks for every mobile: few enough that spreading over ranges costs an attacker a probation each,
 * small enough that one ring's block is not a whole carrier's customers.
 */
export const RANGE_NATIONAL_DIGITS = 4;

/**
 * The range of an E.164 number, for the SMS brake's verification rate per range (pumping rings own
 * blocks of numbers, and their codes are never used): its calling code and first national digits,
 * "+27 8212" for +27821234567; '' when it does not parse.
 */
export function numberRangeOf(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  return parsed ? `+${parsed.countryCallingCode} ${parsed.nationalNumber.slice(0, RANGE_NATIONAL_DIGITS)}` : '';
}
