import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { AppError } from '../errors.ts';

/** E.164 for a number written locally ('082 555 0123' in ZA) or internationally; invalid numbers are refused. */
export function normalizePhone(input: string, defaultRegion: string): string {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion as CountryCode);
  if (!parsed || !parsed.isValid()) {
    throw new AppError(
      'invalid_phone',
      `"${input.slice(0, 40)}" is not a valid phone number. Use the international form, e.g. +27825550123.`,
    );
  }
  return parsed.number;
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
