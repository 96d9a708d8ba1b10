import { Type, type TSchema } from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../shared/errors.ts';
import { ACCOUNT_EVENT_TYPES, type AccountEventType } from '../shared/vocabulary.ts';

const NAME_PATTERN =
  "^(?!.*[wW]{3}\\.)(?!.*\\.[\\p{M}\\u200C\\u200D]*\\p{L}[\\p{M}\\u200C\\u200D]*\\p{L})(?!.*[\\uFF00-\\uFFEF]) *\\p{L}[\\p{L}\\p{M}\\u200C\\u200D '’.\\-]*$";
const LOCALE_PATTERN = '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$';
const UUID_PATTERN = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
const OTP_PATTERN = '^([0-9]{4,10}|[0-9A-Za-z][0-9A-Za-z -]{14,22}[0-9A-Za-z])$';
/** An events page's size in a query string (the account's own log, support's). */
export const PageLimit = '^[0-9]{1,4}$';

/** Shared pieces of the contract: limits on every string keep huge inputs a 400, not a slow hash. */
export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254, examples: ['thandi@example.com'] });
export const Phone = Type.String({ minLength: 3, maxLength: 32, examples: ['+27825550123', '082 555 0123'] });
/**
 * A person's name: letters of any script (with their combining marks), spaces, apostrophes, hyphens
 * and dots, at most 64 characters. Names go into emails sent to the address given, so nothing that
 * reads as a link or a number to call: no digits or control characters, no "www.", no dot followed
 * by two letters ("evil.com", "bit.ly"; initials such as "J.R.R." pass), no full-width letters
 * (which spell "ｗｗｗ." past the other checks). The zero-width (non-)joiners some scripts spell with
 * pass here; names.ts then refuses them outside those scripts, with words that mix scripts, invisible
 * characters, letters that look like punctuation or digits and stacked marks.
 */
export const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: NAME_PATTERN,
  description: "Letters, spaces, ' - and . only; at most 64 characters.",
  examples: ['Thandi'],
});
/** A language tag as apps send it ('af', 'af-ZA'); its language must be one messages are written in (locales.ts). */
export const LocaleTag = Type.String({
  minLength: 2,
  maxLength: 35,
  pattern: LOCALE_PATTERN,
  examples: ['af', 'zu-ZA'],
});
export const Password = Type.String({ minLength: 8, maxLength: 256, description: 'At least 8 characters.' });
export const LoginPassword = Type.String({ minLength: 1, maxLength: 256 });
/**
 * A row's id in a path: the hyphenated form only. ajv's `format: 'uuid'` also passes `urn:uuid:…`,
 * which PostgreSQL's uuid type does not read (a 500, not a 404).
 */
export const Uuid = Type.String({
  pattern: UUID_PATTERN,
});
export const Otp = Type.String({
  pattern: OTP_PATTERN,
  description:
    'The digits of the code, or the long code of the same email (16 letters and digits, dashes and spaces ignored).',
  examples: ['123456', 'K7QM-3XJD-9TWP-R2HB'],
});
export const Token = Type.String({ minLength: 1, maxLength: 2048 });

/**
 * What a field refused by its `pattern` must look like, in words: the answer names the form, never
 * the regular expression (which tells a person nothing). A pattern missing here says to see /docs.
 */
export const PATTERN_WORDS: ReadonlyMap<string, string> = new Map([
  [NAME_PATTERN, "letters, spaces, ' - and . only"],
  [LOCALE_PATTERN, 'a language tag such as en, af or zu-ZA'],
  [UUID_PATTERN, 'an id as the API lists it (a UUID, 8-4-4-4-12 hex digits)'],
  [OTP_PATTERN, 'the digits of the code, or the long code of the same email (16 letters and digits)'],
  [PageLimit, 'a whole number'],
]);

/** An error answer whose code is one of `codes` (all of one status), listed in its description too. */
const ErrorOf = (codes: ErrorCode[]) =>
  Type.Object(
    { error: Type.Object({ code: Type.Enum(codes, { type: 'string' }), message: Type.String() }) },
    { description: codes.join(', ') },
  );

export const Message = Type.Object({ message: Type.String() });

/** A body schema that refuses unknown fields' types but tolerates extra fields (old clients send some). */
export const body = <T extends Record<string, TSchema>>(props: T) => Type.Object(props);

/**
 * A route's error answers for the OpenAPI document: its codes grouped by their status (ERROR_CODES),
 * each status's `error.code` an enum of them. The test suite checks every error answer against it
 * (test/support/api.ts). The error handler's body is `{error: {code, message}}` and nothing else.
 */
export function errors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes))
    byStatus.set(ERROR_CODES[code], [...(byStatus.get(ERROR_CODES[code]) ?? []), code]);
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, list]) => [status, ErrorOf(list)]));
}

/**
 * What every route of a kind may answer, whatever its own refusals. Any route: a query or path its
 * schema refuses, or one with a NUL or broken Unicode (json-body.ts). A route with a per-IP budget
 * (ip-rate-limit.ts): rate_limited. One that reads the database: service_unavailable in an outage.
 */
export const READS: ErrorCode[] = ['validation_error', 'rate_limited', 'service_unavailable'];
/** A route that takes a body (POST, PATCH, DELETE): one too large, or not JSON. */
export const WRITES: ErrorCode[] = [...READS, 'payload_too_large', 'unsupported_media_type'];
/** A route behind a Bearer token (auth-hook.ts): the user's, or the admin token. */
export const SIGNED_IN: ErrorCode[] = ['unauthorized'];
/**
 * A route that writes rows of an account (a session, a code): the account deleted while it ran is a
 * 404 not_found (error-handler.ts), never a 500.
 */
export const GONE_MEANWHILE: ErrorCode[] = ['not_found'];

/** The filters of an event log's page (an account's own, or support's), as a query string. */
export const EventFilters = {
  type: Type.Optional(Type.Enum(ACCOUNT_EVENT_TYPES)),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only events at or after this time' })),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'The next_cursor of the page before' }),
  ),
  limit: Type.Optional(Type.String({ pattern: PageLimit, description: 'Events a page (default 50, at most 500)' })),
};

/** The filters as the domain takes them. */
export const eventFilter = (q: { type?: AccountEventType; since?: string; cursor?: string; limit?: string }) => ({
  type: q.type,
  since: q.since === undefined ? undefined : new Date(q.since),
  cursor: q.cursor,
  limit: Math.min(500, Math.max(1, Number(q.limit ?? 50))),
});
