/**
 * Malformed input against every endpoint of the v1 contract: each case must answer 4xx (never 5xx)
 * with exactly {error: {code, message}}. The table is generated: endpoints × body cases, every field
 * × the bad values of its kind, and every authenticated endpoint × bad Authorization headers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { apiRoutes } from './support/routes.ts';
import { person, startStack, verifiedLogin, type Stack } from './support/stack.ts';

type Kind =
  | 'email'
  | 'phone'
  | 'name'
  | 'password'
  | 'loginPassword'
  | 'otp'
  | 'token'
  | 'identifier'
  | 'deliveryMethod'
  | 'locale';

interface Field {
  name: string;
  kind: Kind;
  required: boolean;
}

interface Endpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The route as the app's table lists it (`:id` for a parameter). */
  path: string;
  /** What is requested, when the path has a parameter: a well-formed value in its place. */
  url?: string;
  /** A POST that takes nothing: any body is ignored, as a DELETE's is. */
  bodiless?: true;
  auth: boolean;
  fields: Field[];
  /** A body the endpoint accepts as well-formed (it may still answer a domain 4xx, e.g. otp_invalid). */
  valid: () => Record<string, unknown>;
  /** Whether `{}` is malformed (false where every field is optional). */
  emptyObjectInvalid: boolean;
}

/** Filled in `before`: a live session whose tokens the valid bodies and Authorization headers use. */
const session = { access: '', refresh: '', userId: '', sessionId: '', email: '', jwtSecret: '' };

const f = (name: string, kind: Kind, required = true): Field => ({ name, kind, required });
/** GET, a DELETE without fields and a bodiless POST take no body: they get the Authorization cases only. */
const hasBody = (ep: Endpoint) => ep.method !== 'GET' && !(ep.method === 'DELETE' && !ep.fields.length) && !ep.bodiless;
const fresh = () => person('malformed');

const ENDPOINTS: Endpoint[] = [
  {
    method: 'POST',
    path: '/api/v1/auth/register',
    auth: false,
    fields: [
      f('email', 'email'),
      f('phone', 'phone'),
      f('first_name', 'name'),
      f('last_name', 'name'),
      f('password', 'password'),
      f('locale', 'locale', false),
    ],
    valid: () => fresh(),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/users/register',
    auth: false,
    fields: [
      f('email', 'email'),
      f('phone', 'phone'),
      f('first_name', 'name'),
      f('last_name', 'name'),
      f('password', 'password', false),
      f('locale', 'locale', false),
    ],
    valid: () => fresh(),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/resend-verification',
    auth: false,
    fields: [f('email', 'email')],
    valid: () => ({ email: fresh().email }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/verify-account',
    auth: false,
    fields: [f('email', 'email'), f('otp', 'otp')],
    valid: () => ({ email: fresh().email, otp: '123456' }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/login',
    auth: false,
    fields: [f('email', 'email'), f('password', 'loginPassword')],
    valid: () => ({ email: fresh().email, password: 'not the password' }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/refresh',
    auth: false,
    fields: [f('refresh_token', 'token')],
    valid: () => ({ refresh_token: session.refresh }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/logout',
    auth: true,
    fields: [f('refresh_token', 'token')],
    valid: () => ({ refresh_token: session.refresh }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/forgot-password',
    auth: false,
    fields: [f('email', 'email')],
    valid: () => ({ email: fresh().email }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/reset-password',
    auth: false,
    fields: [f('email', 'email'), f('otp', 'otp'), f('new_password', 'password')],
    valid: () => ({ email: fresh().email, otp: '123456', new_password: 'a brand new secret' }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/request-unlock-otp',
    auth: false,
    fields: [f('identifier', 'identifier'), f('delivery_method', 'deliveryMethod', false)],
    valid: () => ({ identifier: fresh().email, delivery_method: 'email' }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/verify-unlock-otp',
    auth: false,
    fields: [f('identifier', 'identifier'), f('otp', 'otp')],
    valid: () => ({ identifier: fresh().email, otp: '123456' }),
    emptyObjectInvalid: true,
  },
  // Two identifiers, each optional: exactly one must be sent, which the domain checks (400 validation_error).
  {
    method: 'POST',
    path: '/api/v1/auth/otp',
    auth: false,
    fields: [f('email', 'email', false), f('phone', 'phone', false), f('channel', 'deliveryMethod', false)],
    valid: () => ({ email: fresh().email }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/auth/otp/verify',
    auth: false,
    fields: [f('email', 'email', false), f('phone', 'phone', false), f('otp', 'otp')],
    valid: () => ({ email: fresh().email, otp: '123456' }),
    emptyObjectInvalid: true,
  },
  // A valid phone here would send an SMS; the body cases only ever send a malformed one.
  {
    method: 'POST',
    path: '/api/v1/users/verify-phone',
    auth: true,
    fields: [f('phone', 'phone', false), f('password', 'loginPassword', false), f('otp', 'otp', false)],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  {
    method: 'POST',
    path: '/api/v1/users/verify-otp',
    auth: true,
    fields: [f('otp', 'otp', false), f('otp_code', 'otp', false)],
    valid: () => ({ otp: '123456' }),
    // Both fields are optional in the schema, but one of them is required.
    emptyObjectInvalid: true,
  },
  { method: 'GET', path: '/api/v1/auth/me', auth: true, fields: [], valid: () => ({}), emptyObjectInvalid: false },
  { method: 'GET', path: '/api/v1/users/me', auth: true, fields: [], valid: () => ({}), emptyObjectInvalid: false },
  {
    method: 'PATCH',
    path: '/api/v1/users/me',
    auth: true,
    fields: [f('locale', 'locale')],
    valid: () => ({ locale: 'af' }),
    emptyObjectInvalid: true,
  },
  {
    method: 'GET',
    path: '/api/v1/users/me/events',
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  {
    method: 'GET',
    path: '/api/v1/users/verify-phone/status',
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  {
    method: 'GET',
    path: '/api/v1/users/me/sessions',
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  // An id no session has: the control answers 404 session_not_found (a malformed id: sessions.test.ts).
  {
    method: 'DELETE',
    path: '/api/v1/users/me/sessions/:id',
    url: `/api/v1/users/me/sessions/${randomUUID()}`,
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  // The shared session is the one asking: it stays.
  {
    method: 'POST',
    path: '/api/v1/users/me/sessions/revoke-others',
    bodiless: true,
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  // A wrong current password (401) changes nothing; three of them (control, two injections) stay below the throttle.
  {
    method: 'POST',
    path: '/api/v1/users/me/password',
    auth: true,
    fields: [f('current_password', 'loginPassword'), f('new_password', 'password')],
    valid: () => ({ current_password: 'not the password', new_password: SAMPLE.password }),
    emptyObjectInvalid: true,
  },
  // The account's email changed: a code to a fresh address with the session's own password, then the switch.
  {
    method: 'POST',
    path: '/api/v1/users/me/email',
    auth: true,
    fields: [f('email', 'email'), f('password', 'loginPassword', false), f('otp', 'otp', false)],
    valid: () => ({ email: fresh().email, password: fresh().password }),
    emptyObjectInvalid: true,
  },
  {
    method: 'POST',
    path: '/api/v1/users/me/email/verify',
    auth: true,
    fields: [f('otp', 'otp')],
    valid: () => ({ otp: '123456' }),
    emptyObjectInvalid: true,
  },
  // The person's data: the export, and the deletion, refused (401) for a wrong password, so the shared account stays.
  {
    method: 'GET',
    path: '/api/v1/users/me/export',
    auth: true,
    fields: [],
    valid: () => ({}),
    emptyObjectInvalid: false,
  },
  {
    method: 'DELETE',
    path: '/api/v1/users/me',
    auth: true,
    fields: [f('password', 'loginPassword', false), f('otp', 'otp', false)],
    valid: () => ({ password: 'not the password' }),
    emptyObjectInvalid: true,
  },
];

// ------------------------------------------------------------------------------------------ cases

interface Request {
  contentType?: string;
  body?: string | Uint8Array;
  /** The whole Authorization header; `undefined` means the session's valid access token. */
  authorization?: string | null;
}

interface Expect {
  /** Exact status, when the contract fixes it; otherwise any 4xx. */
  status?: number | number[];
  code?: string | string[];
}

interface Case extends Expect {
  name: string;
  request: () => Request | Promise<Request>;
}

const json = (value: unknown): Request => ({ contentType: 'application/json', body: JSON.stringify(value) });
const raw = (body: string, contentType = 'application/json'): Request => ({ contentType, body });

const KB = 1024;
const huge = 'a'.repeat(100 * KB);
const long = 'a'.repeat(20 * KB);
const SQLI = "' OR 1=1 --";
const NOSQL_TEXT = '{"$gt": ""}';
const NOSQL = { $gt: '' };

/** A well-formed value of each kind (what the bad values are variations of). */
const SAMPLE: Record<Kind, string> = {
  email: 'thandi@example.test',
  phone: '+27825550123',
  name: 'Thandi',
  password: 'correct horse battery',
  loginPassword: 'correct horse battery',
  otp: '123456',
  token: 'dGhpcyBpcyBub3QgYSByZWFsIHRva2Vu',
  identifier: 'thandi@example.test',
  deliveryMethod: 'email',
  locale: 'af',
};

/** Values that are wrong for a field of any kind (types, emptiness, size, unicode that cannot be stored). */
function genericBadValues(kind: Kind): Array<[string, unknown, Expect?]> {
  const sample = SAMPLE[kind];
  const values: Array<[string, unknown, Expect?]> = [
    ['a number', kind === 'otp' ? 123456 : 12345678, { status: 400, code: 'validation_error' }],
    ['a boolean', true, { status: 400, code: 'validation_error' }],
    ['an object', { value: sample }, { status: 400, code: 'validation_error' }],
    ['a NoSQL operator object {"$gt": ""}', NOSQL, { status: 400, code: 'validation_error' }],
    ['an array', [sample], { status: 400, code: 'validation_error' }],
    ['null', null, { status: 400, code: 'validation_error' }],
    ['an empty string', '', { status: 400, code: 'validation_error' }],
    ['a 20 kB string', long, { status: 400, code: 'validation_error' }],
    ['a 100 kB string', huge, { status: 413, code: 'payload_too_large' }],
    ['a NUL byte inside', `${sample.slice(0, 2)}\u0000${sample.slice(2)}`, { status: 400, code: 'validation_error' }],
    [
      'a lone UTF-16 surrogate inside',
      `${sample.slice(0, 2)}\ud800${sample.slice(2)}`,
      { status: 400, code: 'validation_error' },
    ],
  ];
  return values;
}

/** Values wrong for one kind of field only. */
const KIND_BAD_VALUES: Record<Kind, Array<[string, unknown, Expect?]>> = {
  email: [
    ['SQL injection', SQLI, { status: 400 }],
    ['SQL injection after an address', "thandi@example.test'; DROP TABLE users; --", { status: 400 }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: 400 }],
    ['no @', 'thandi.example.test', { status: 400 }],
    ['no domain', 'thandi@', { status: 400 }],
    ['no local part', '@example.test', { status: 400 }],
    ['a space inside', 'thandi@exam ple.test', { status: 400 }],
    ['whitespace only', '   ', { status: 400 }],
    ['a header injection (CRLF)', 'thandi@example.test\r\nBcc: everyone@example.test', { status: 400 }],
    ['a right-to-left override', 'thandi@example.test\u202e', { status: 400 }],
    ['a zero-width space', 'tha\u200bndi@example.test', { status: 400 }],
    ['fullwidth characters', 'ｔｈａｎｄｉ＠ｅｘａｍｐｌｅ.test', { status: 400 }],
  ],
  phone: [
    ['SQL injection', SQLI, { status: 400 }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: 400 }],
    ['too few digits', '12345', { status: 400 }],
    ['letters', 'not a phone number', { status: 400 }],
    ['whitespace only', '   ', { status: 400 }],
    ['emoji', '📞📞📞📞📞📞', { status: 400 }],
    ['too many digits', '+2782555012345678901234567890123', { status: 400 }],
  ],
  name: [
    ['whitespace only', '   ', { status: 400 }],
    ['unicode whitespace only (ideographic space, no-break space)', '\u3000\u00a0\u3000', { status: 400 }],
    ['101 characters', 'n'.repeat(101), { status: 400 }],
  ],
  password: [
    ['too short (7 characters)', 'short77', { status: 400 }],
    ['257 characters', 'p'.repeat(257), { status: 400 }],
  ],
  loginPassword: [
    ['SQL injection', SQLI, { status: 401, code: 'invalid_credentials' }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: 401, code: 'invalid_credentials' }],
    ['257 characters', 'p'.repeat(257), { status: 400 }],
  ],
  otp: [
    ['SQL injection', SQLI, { status: 400 }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: 400 }],
    ['a letter', '12345a', { status: 400 }],
    ['too short', '123', { status: 400 }],
    ['too long', '12345678901', { status: 400 }],
    ['a leading space', ' 123456', { status: 400 }],
    ['a trailing newline', '123456\n', { status: 400 }],
    ['a sign', '-12345', { status: 400 }],
    ['exponent notation', '1e5', { status: 400 }],
    ['a decimal point', '123.456', { status: 400 }],
    ['hex', '0x1234', { status: 400 }],
    ['fullwidth digits', '１２３４５６', { status: 400 }],
    ['Arabic-Indic digits', '١٢٣٤٥٦', { status: 400 }],
    ['a wildcard', '%', { status: 400 }],
  ],
  token: [
    ['SQL injection', SQLI, { status: [400, 401] }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: [400, 401] }],
    ['garbage', 'garbage', { status: 401 }],
    ['2049 characters', 't'.repeat(2049), { status: 400 }],
  ],
  identifier: [
    ['SQL injection', SQLI, { status: 400 }],
    ['NoSQL operator as text', NOSQL_TEXT, { status: 400 }],
    ['too short', 'ab', { status: 400 }],
    ['neither an email nor a phone', 'thandi.example.test', { status: 400 }],
    ['whitespace only', '     ', { status: 400 }],
    ['a header injection (CRLF)', 'thandi@example.test\r\nBcc: everyone@example.test', { status: 400 }],
  ],
  deliveryMethod: [
    ['an unknown method', 'carrier-pigeon', { status: 400 }],
    ['upper case', 'EMAIL', { status: 400 }],
  ],
  locale: [
    ['a language no message is written in', 'fr', { status: 400, code: 'locale_not_supported' }],
    ['SQL injection', SQLI, { status: 400, code: 'validation_error' }],
    ['markup', 'af"><script>', { status: 400, code: 'validation_error' }],
    ['a header injection (CRLF)', 'af\r\nBcc: everyone@example.test', { status: 400, code: 'validation_error' }],
    ['36 characters', `af-${'x'.repeat(33)}`, { status: 400, code: 'validation_error' }],
  ],
};

/** Invalid UTF-8 (0xFF 0xFE) inside a field's value: the bytes are not text at all. */
function invalidUtf8Body(valid: Record<string, unknown>, field: string): Uint8Array {
  const marker = '__INVALID_UTF8__';
  const text = JSON.stringify({ ...valid, [field]: `${SAMPLE.email.slice(0, 3)}${marker}` });
  const [head, tail] = text.split(marker);
  return Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe]), Buffer.from(tail)]);
}

function fieldCases(ep: Endpoint): Case[] {
  const cases: Case[] = [];
  for (const field of ep.fields) {
    if (field.required) {
      cases.push({
        name: `${field.name}: missing`,
        status: 400,
        code: 'validation_error',
        request: () => {
          const { [field.name]: _gone, ...rest } = ep.valid();
          return json(rest);
        },
      });
    }
    for (const [label, value, expect] of [...genericBadValues(field.kind), ...KIND_BAD_VALUES[field.kind]]) {
      cases.push({
        name: `${field.name}: ${label}`,
        ...expect,
        request: () => json({ ...ep.valid(), [field.name]: value }),
      });
    }
    cases.push({
      name: `${field.name}: invalid UTF-8 bytes`,
      status: 400,
      code: 'validation_error',
      request: () => ({ contentType: 'application/json', body: invalidUtf8Body(ep.valid(), field.name) }),
    });
  }
  return cases;
}

function bodyCases(ep: Endpoint): Case[] {
  const validText = () => JSON.stringify(ep.valid());
  const withProto = (key: string) => () =>
    raw(`{"${key}": {"prototype": {"polluted": true}, "isAdmin": true}, ${validText().slice(1)}`);
  const cases: Case[] = [
    {
      name: 'broken JSON (unterminated object)',
      status: 400,
      code: 'validation_error',
      request: () => raw('{"email": "thandi@example.test",'),
    },
    {
      name: 'broken JSON (single quotes)',
      status: 400,
      code: 'validation_error',
      request: () => raw("{'email': 'thandi@example.test'}"),
    },
    {
      name: 'broken JSON (trailing garbage)',
      status: 400,
      code: 'validation_error',
      request: () => raw(`${validText()} trailing`),
    },
    { name: 'broken JSON (a lone brace)', status: 400, code: 'validation_error', request: () => raw('{') },
    { name: 'a JSON array as body', status: 400, code: 'validation_error', request: () => raw('[]') },
    {
      name: 'the valid body wrapped in an array',
      status: 400,
      code: 'validation_error',
      request: () => raw(`[${validText()}]`),
    },
    {
      name: 'a JSON string as body',
      status: 400,
      code: 'validation_error',
      request: () => raw('"thandi@example.test"'),
    },
    { name: 'JSON null as body', status: 400, code: 'validation_error', request: () => raw('null') },
    { name: 'a JSON number as body', status: 400, code: 'validation_error', request: () => raw('42') },
    { name: 'JSON true as body', status: 400, code: 'validation_error', request: () => raw('true') },
    { name: 'an empty body with Content-Type: application/json', status: 400, request: () => raw('') },
    { name: '__proto__ in the body (prototype pollution)', status: 400, request: withProto('__proto__') },
    { name: 'constructor.prototype in the body (prototype pollution)', status: 400, request: withProto('constructor') },
    {
      name: 'deeply nested JSON (5000 levels)',
      status: [400, 413],
      request: () => raw(`{"${ep.fields[0]?.name ?? 'x'}": ${'['.repeat(5000)}${']'.repeat(5000)}}`),
    },
    {
      name: 'a body over the limit (1 MB)',
      status: 413,
      code: 'payload_too_large',
      request: () => json({ ...ep.valid(), padding: 'x'.repeat(1024 * KB) }),
    },
    {
      // fetch's default for a string body: 415 names the fix, a 400 "must be object" did not
      name: 'Content-Type: text/plain with a valid JSON text',
      status: 415,
      code: 'unsupported_media_type',
      request: () => raw(validText(), 'text/plain'),
    },
    {
      name: 'Content-Type: application/x-www-form-urlencoded (a form)',
      status: 415,
      code: 'unsupported_media_type',
      request: () =>
        raw(new URLSearchParams(ep.valid() as Record<string, string>).toString(), 'application/x-www-form-urlencoded'),
    },
    {
      name: 'Content-Type: multipart/form-data',
      status: 415,
      code: 'unsupported_media_type',
      request: () =>
        raw(
          `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nthandi@example.test\r\n--x--\r\n`,
          'multipart/form-data; boundary=x',
        ),
    },
    {
      name: 'Content-Type: application/xml',
      status: 415,
      code: 'unsupported_media_type',
      request: () => raw('<email>thandi@example.test</email>', 'application/xml'),
    },
    {
      name: 'a JSON body without any Content-Type',
      status: [400, 415],
      request: () => ({ body: new TextEncoder().encode(validText()) }),
    },
  ];
  if (ep.emptyObjectInvalid)
    cases.push({ name: 'an empty object', status: 400, code: 'validation_error', request: () => json({}) });
  return cases;
}

/** JWT pieces for the Authorization cases. */
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwtPayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
const signWith = (secret: string, alg: 'HS256' | 'HS512', claims: { exp: number; iat: number }) =>
  new SignJWT({ sid: session.sessionId, typ: 'access' })
    .setProtectedHeader({ alg })
    .setSubject(session.userId)
    .setIssuer('panic-api')
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(new TextEncoder().encode(secret));
const nowS = () => Math.floor(Date.now() / 1000);

function authCases(): Case[] {
  const unauthorized = { status: 401, code: 'unauthorized' } as const;
  const header = (value: string | null | (() => string | Promise<string>)) => async (): Promise<Request> => ({
    authorization: typeof value === 'function' ? await value() : value,
  });
  return [
    { name: 'Authorization: none', ...unauthorized, request: header(null) },
    { name: 'Authorization: garbage', ...unauthorized, request: header('garbage') },
    { name: 'Authorization: "Bearer" with no token', ...unauthorized, request: header('Bearer') },
    { name: 'Authorization: "Bearer " and spaces', ...unauthorized, request: header('Bearer    ') },
    { name: 'Authorization: Basic credentials', ...unauthorized, request: header('Basic dXNlcjpwYXNzd29yZA==') },
    { name: 'Authorization: the token without "Bearer"', ...unauthorized, request: header(() => session.access) },
    {
      name: 'Authorization: the token followed by more words',
      ...unauthorized,
      request: header(() => `Bearer ${session.access} extra`),
    },
    { name: 'Authorization: not a JWT', ...unauthorized, request: header('Bearer not.a.jwt') },
    { name: 'Authorization: SQL injection', ...unauthorized, request: header(`Bearer ${SQLI.replace(/ /g, '')}`) },
    { name: 'Authorization: an 8 kB token', ...unauthorized, request: header(`Bearer ${'x'.repeat(8 * KB)}`) },
    {
      name: 'Authorization: a tampered JWT (payload changed, signature kept)',
      ...unauthorized,
      request: header(() => {
        const [h, , s] = session.access.split('.');
        const payload = { ...jwtPayload(session.access), sub: '00000000-0000-4000-8000-000000000000' };
        return `Bearer ${h}.${b64(payload)}.${s}`;
      }),
    },
    {
      name: 'Authorization: a tampered JWT (expiry extended, signature kept)',
      ...unauthorized,
      request: header(() => {
        const [h, , s] = session.access.split('.');
        const payload = { ...jwtPayload(session.access), exp: nowS() + 10 * 365 * 86400 };
        return `Bearer ${h}.${b64(payload)}.${s}`;
      }),
    },
    {
      name: 'Authorization: a JWT with a broken signature',
      ...unauthorized,
      request: header(() => {
        const [h, p, s] = session.access.split('.');
        return `Bearer ${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
      }),
    },
    {
      name: 'Authorization: an unsigned JWT (alg none)',
      ...unauthorized,
      request: header(() => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(jwtPayload(session.access))}.`),
    },
    {
      name: 'Authorization: a JWT signed with another secret',
      ...unauthorized,
      request: header(
        async () =>
          `Bearer ${await signWith('another-secret-another-secret-another', 'HS256', { iat: nowS(), exp: nowS() + 600 })}`,
      ),
    },
    {
      name: 'Authorization: a JWT signed with the right secret but HS512',
      ...unauthorized,
      request: header(
        async () => `Bearer ${await signWith(session.jwtSecret, 'HS512', { iat: nowS(), exp: nowS() + 600 })}`,
      ),
    },
    {
      name: 'Authorization: an expired JWT (right secret, right claims)',
      ...unauthorized,
      request: header(
        async () => `Bearer ${await signWith(session.jwtSecret, 'HS256', { iat: nowS() - 3600, exp: nowS() - 1800 })}`,
      ),
    },
    {
      name: 'Authorization: a refresh token as Bearer',
      ...unauthorized,
      request: header(() => `Bearer ${session.refresh}`),
    },
  ];
}

// ------------------------------------------------------------------------------------------ run

function assertErrorBody(
  res: { status: number; text: string; contentType: string | null },
  what: string,
): { code: string; message: string } {
  assert.ok(
    res.status >= 400 && res.status < 500,
    `${what}: expected 4xx, got ${res.status}: ${res.text.slice(0, 300)}`,
  );
  assert.match(res.contentType ?? '', /^application\/json/, `${what}: error answered as ${res.contentType}`);
  let body: unknown;
  assert.doesNotThrow(() => (body = JSON.parse(res.text)), `${what}: body is not JSON: ${res.text.slice(0, 300)}`);
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `${what}: body is not an object`);
  assert.deepEqual(
    Object.keys(body),
    ['error'],
    `${what}: body has other keys than "error": ${res.text.slice(0, 300)}`,
  );
  const error = (body as { error: unknown }).error as Record<string, unknown>;
  assert.ok(error && typeof error === 'object' && !Array.isArray(error), `${what}: "error" is not an object`);
  assert.deepEqual(
    Object.keys(error).sort(),
    ['code', 'message'],
    `${what}: "error" must be exactly {code, message}: ${res.text.slice(0, 300)}`,
  );
  assert.equal(typeof error.code, 'string');
  assert.equal(typeof error.message, 'string');
  assert.match(error.code as string, /^[a-z_]+$/, `${what}: code is not a stable machine code`);
  assert.ok((error.message as string).trim().length > 0, `${what}: empty message`);
  return error as { code: string; message: string };
}

describe('malformed input: every endpoint answers 4xx with {error:{code,message}}', () => {
  let stack: Stack;

  async function send(ep: Endpoint, req: Request) {
    const headers: Record<string, string> = {};
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    const authorization =
      req.authorization === undefined ? (ep.auth ? `Bearer ${session.access}` : undefined) : req.authorization;
    if (authorization !== undefined && authorization !== null) headers.authorization = authorization;
    const res = await fetch(`${stack.baseUrl}${ep.url ?? ep.path}`, {
      method: ep.method,
      headers,
      body: hasBody(ep) ? (req.body as string | undefined) : undefined, // a Uint8Array is sent as bytes
    });
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
  }

  before(async () => {
    // every wrong password of the table goes to the one account: its login throttle is not what is tested here
    stack = await startStack({ db: 'pglite', env: { LOGIN_MAX_FAILURES: '100' } });
    const { person: p, tokens } = await verifiedLogin(stack, 'malformed-owner');
    const claims = jwtPayload(tokens.access_token);
    Object.assign(session, {
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      userId: claims.sub,
      sessionId: claims.sid,
      email: p.email,
      jwtSecret: stack.runtime.config.JWT_SECRET,
    });
  });
  after(() => stack?.close());

  it('the table covers every endpoint of the contract', () => {
    const listed = new Set(ENDPOINTS.map((e) => `${e.method} ${e.path}`));
    // Receipts refuse anything unsigned before reading it: receipts.test.ts sends its malformed bodies signed.
    const served = apiRoutes(stack.runtime.app).filter((r) => !r.includes(' /api/v1/webhooks/'));
    assert.ok(served.length > 0, 'the app serves v1 routes');
    for (const route of served) assert.ok(listed.has(route), `${route} is in the table`);
  });

  for (const ep of ENDPOINTS) {
    describe(`${ep.method} ${ep.path}`, () => {
      // Control: the well-formed request gets past parsing, validation and auth, so each case below
      // fails for the one thing it breaks. (verify-phone's control would send an SMS: `{}` is
      // checked by the flows tests instead. Refresh and logout would spend the shared token.)
      if (!['/api/v1/users/verify-phone', '/api/v1/auth/refresh', '/api/v1/auth/logout'].includes(ep.path)) {
        it('control: the well-formed request is not refused as malformed', async () => {
          const res = await send(ep, hasBody(ep) ? json(ep.valid()) : {});
          assert.ok(res.status < 500, `${res.status}: ${res.text}`);
          if (res.status >= 400) {
            const { code } = assertErrorBody(res, 'control');
            assert.ok(
              ![
                'validation_error',
                'unauthorized',
                'payload_too_large',
                'unsupported_media_type',
                'invalid_phone',
              ].includes(code),
              `control refused with ${code}: ${res.text}`,
            );
          }
        });
      }

      const cases = [...(hasBody(ep) ? [...bodyCases(ep), ...fieldCases(ep)] : []), ...(ep.auth ? authCases() : [])];
      for (const c of cases) {
        it(c.name, async () => {
          const req = await c.request();
          // Authorization cases carry the endpoint's well-formed body, so only the header is wrong.
          if (hasBody(ep) && req.body === undefined && req.contentType === undefined)
            Object.assign(req, json(ep.valid()));
          const res = await send(ep, req);
          const error = assertErrorBody(res, c.name);
          if (c.status !== undefined) {
            const allowed = ([] as number[]).concat(c.status);
            assert.ok(
              allowed.includes(res.status),
              `expected ${allowed.join(' or ')}, got ${res.status}: ${res.text.slice(0, 300)}`,
            );
          }
          if (c.code !== undefined) {
            const allowed = ([] as string[]).concat(c.code);
            assert.ok(allowed.includes(error.code), `expected code ${allowed.join(' or ')}, got ${error.code}`);
          }
          // A body case on an authenticated endpoint carries a valid token: it must not be refused for that.
          if (ep.auth && !c.name.startsWith('Authorization:')) assert.notEqual(error.code, 'unauthorized', res.text);
        });
      }
    });
  }

  it('a malformed path is a 400 validation_error in the envelope, and no answer quotes a regular expression', async () => {
    const cases = [
      ['not-a-session-id', /an id as the API lists it/],
      ['%ff%fe', /not valid URL encoding/],
      ['%zz', /not valid URL encoding/],
      ['a'.repeat(5000), /too long/],
    ] as const;
    for (const [id, words] of cases) {
      const res = await send(
        {
          method: 'DELETE',
          path: '',
          url: `/api/v1/users/me/sessions/${id}`,
          auth: true,
          fields: [],
          valid: () => ({}),
          emptyObjectInvalid: false,
        },
        {},
      );
      const error = assertErrorBody(res, id.slice(0, 20));
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assert.equal(error.code, 'validation_error');
      assert.match(error.message, words);
      assert.ok(!res.text.includes('a'.repeat(200)), 'the path is not echoed back');
    }
    const code = await stack.api('POST', '/api/v1/auth/otp/verify', { email: session.email, otp: '' });
    assert.equal(code.status, 400, code.text);
    assert.match(code.text, /the digits of the code/);
    assert.doesNotMatch(code.text, /\^|\{4,10\}/, 'the pattern is worded, not quoted');
  });

  it('the shared session is still alive after every case (no case logged it out or rotated it)', async () => {
    const me = await stack.api('GET', '/api/v1/auth/me', undefined, session.access);
    assert.equal(me.status, 200, me.text);
    const next = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: session.refresh });
    assert.equal(next.status, 200, next.text);
  });
});
