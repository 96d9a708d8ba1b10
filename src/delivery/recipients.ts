import { isEmailAddress, normalizePhone } from '../shared/addresses.ts';

/**
 * The values a `to` filter matches, lower-cased: the value itself, and for something that is not an
 * email address also its E.164 form ("082 555 0123" finds "+27825550123"). Unparseable numbers are
 * simply not added.
 */
export function recipientKeys(to: string, defaultRegion: string): string[] {
  const value = to.trim();
  if (!value) return [];
  const keys = new Set([value.toLowerCase()]);
  if (!isEmailAddress(value)) {
    try {
      keys.add(normalizePhone(value, defaultRegion).toLowerCase());
    } catch {
      // not a phone number: the literal value is the only key
    }
  }
  return [...keys];
}
