import { assertTextable, isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';

/**
 * App-store reviewers' destinations (TEST_OTP_DESTINATIONS): a code for one of them is its fixed code
 * and nothing is sent, until the end of TEST_OTP_VALID_UNTIL's day (UTC). The codes are secrets: no
 * sentence here ever holds one.
 */

const DAY_MS = 86_400_000;

/** A destination in the form codes are issued to: an email lower-cased, a phone as it is (E.164). */
const keyOf = (destination: string): string =>
  isEmailAddress(destination) ? normalizeEmail(destination) : destination;

/** The instant after TEST_OTP_VALID_UNTIL's last day (UTC); undefined when the text is not a real date (2025-02-30). */
export function validityEnd(date: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const start = new Date(`${date}T00:00:00Z`);
  // Date rolls 2025-02-30 over to March 2: a date that does not come back unchanged is not one
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== date) return undefined;
  return new Date(start.getTime() + DAY_MS);
}

/**
 * `+27820000001=482913,review@example.com=135790`: each destination in the form the API gives it (an
 * email lower-cased, a phone in E.164 from DEFAULT_PHONE_REGION, a number the API would text), each
 * code OTP_LENGTH digits. Throws one sentence naming every bad entry by its place and destination.
 */
export function parseTestDestinations(
  text: string | undefined,
  rules: { otpLength: number; region: string; allowedCountries: ReadonlySet<string> | '*' },
): Map<string, string> {
  const codes = new Map<string, string>();
  const placeOf = new Map<string, number>();
  const problems: string[] = [];
  const entries = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [i, entry] of entries.entries()) {
    const place = `entry ${i + 1}`;
    const eq = entry.lastIndexOf('=');
    // without its "=", an entry may be a code alone: it is named by its place only
    if (eq < 0) {
      problems.push(`${place} has no "=": write destination=code`);
      continue;
    }
    const typed = entry.slice(0, eq).trim();
    const code = entry.slice(eq + 1).trim();
    if (!typed) {
      problems.push(`${place} has no destination before its "="`);
      continue;
    }
    const named = `${place} (${typed})`;
    let destination: string;
    try {
      destination = destinationOf(typed, rules);
    } catch (err) {
      problems.push(`${named}: ${(err as Error).message}`);
      continue;
    }
    if (!new RegExp(`^\\d{${rules.otpLength}}$`).test(code)) {
      problems.push(`${named}: its code must be ${rules.otpLength} digits (OTP_LENGTH), as every code is`);
      continue;
    }
    const earlier = placeOf.get(destination);
    if (earlier !== undefined) {
      problems.push(`${named} is the same destination as entry ${earlier} (${destination})`);
      continue;
    }
    placeOf.set(destination, i + 1);
    codes.set(destination, code);
  }
  if (problems.length) throw new Error(problems.join('; '));
  return codes;
}

/** A destination as the API reads it; throws why the API would refuse it (its fixed code could never be asked for). */
function destinationOf(typed: string, rules: { region: string; allowedCountries: ReadonlySet<string> | '*' }): string {
  if (isEmailAddress(typed)) {
    if (!/^[^\s@]+@[^\s@]+$/.test(typed)) throw new Error('not an email address');
    return normalizeEmail(typed);
  }
  const phone = normalizePhone(typed, rules.region);
  assertTextable(phone, rules.allowedCountries);
  return phone;
}

type TestSettings = { TEST_OTP_DESTINATIONS: ReadonlyMap<string, string>; TEST_OTP_VALID_UNTIL?: string };

/** The fixed code of a test destination while TEST_OTP_VALID_UNTIL lasts; undefined for every other destination, and for all once it is over. */
export function testCodeFor(config: TestSettings, destination: string, now: Date): string | undefined {
  if (!config.TEST_OTP_DESTINATIONS.size) return undefined;
  const end = config.TEST_OTP_VALID_UNTIL ? validityEnd(config.TEST_OTP_VALID_UNTIL) : undefined;
  if (end && now >= end) return undefined;
  return config.TEST_OTP_DESTINATIONS.get(keyOf(destination));
}

/** How far ahead TEST_OTP_VALID_UNTIL may be outside development: a review's length, not a lifetime. */
export const TEST_OTP_MAX_DAYS_AHEAD = 90;

/** Why the service refuses its test destinations (`problem`), and what to do about it (`fix`). */
export interface TestDestinationsRefusal {
  problem: string;
  fix: string;
}

/**
 * Why the service may not start with these test destinations at `now`, or undefined when it may: a
 * TEST_OTP_VALID_UNTIL whose day is over (in development too: a date in the past means the review is),
 * or, outside development, one more than TEST_OTP_MAX_DAYS_AHEAD days after today (UTC): a far-off date
 * would keep a reviewer's fixed code a way into its account long after the review.
 */
export function refusedTestDestinations(
  config: TestSettings & { APP_ENV: string },
  now: Date,
): TestDestinationsRefusal | undefined {
  const date = config.TEST_OTP_VALID_UNTIL;
  const end = date && validityEnd(date);
  if (!config.TEST_OTP_DESTINATIONS.size || !date || !end) return undefined;
  if (now >= end) {
    return {
      problem:
        `TEST_OTP_VALID_UNTIL=${date} is over (the test destinations' fixed codes worked through that day, UTC; it is now ${now.toISOString()}). ` +
        'A date in the past means the review is over, and a reviewer destination left in TEST_OTP_DESTINATIONS would stay a way into its account.',
      fix: 'Remove TEST_OTP_DESTINATIONS, or set TEST_OTP_VALID_UNTIL to the last day of a new review (YYYY-MM-DD, UTC).',
    };
  }
  // development requires no date, so caps none (as settings.ts requires one only outside it)
  if (config.APP_ENV === 'development') return undefined;
  const today = now.toISOString().slice(0, 10);
  const latestDay = new Date(Date.parse(today) + TEST_OTP_MAX_DAYS_AHEAD * DAY_MS).toISOString().slice(0, 10);
  if (date <= latestDay) return undefined;
  return {
    problem:
      `TEST_OTP_VALID_UNTIL=${date} is more than ${TEST_OTP_MAX_DAYS_AHEAD} days after today (${today}, UTC, by the service's clock): ` +
      `outside development (APP_ENV=${config.APP_ENV}) it is the last day of a review, at most ${TEST_OTP_MAX_DAYS_AHEAD} days ahead, ` +
      "since a far-off date keeps a reviewer's fixed code a way into its account long after the review.",
    fix: `Set TEST_OTP_VALID_UNTIL to the review's last day, ${latestDay} at the latest (YYYY-MM-DD, UTC), and set it again for a later review; or remove TEST_OTP_DESTINATIONS.`,
  };
}
