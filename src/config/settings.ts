import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { Type, type Static } from 'typebox';
import { parseTrustProxy, type TrustProxy } from '../shared/trust-proxy.ts';
import { parseAllowedCountries } from '../shared/addresses.ts';
import { readEnv } from './read-env.ts';
import { LOCALE_CODES, FALLBACK_LOCALE } from '../shared/locales.ts';
import { DEV_SECRETS, productionSecretProblems, type SecretName } from './secrets.ts';
import { parseChannelList, parseChannelsByCountry } from './phone-channels.ts';
import { parseTestDestinations, validityEnd } from './test-destinations.ts';
import type { PhoneChannel } from '../shared/vocabulary.ts';
import { parseWebhookUrls, webhookKey, type WebhookEndpoint } from './webhooks.ts';

// How text becomes a number or a boolean, and that blank optional text is unset: src/config/read-env.ts.
const int = (def: number, minimum = 0, maximum = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum, maximum });
const optionalText = Type.Optional(Type.String());
const bool = (def: boolean) => Type.Boolean({ default: def });
const oneOf = <const T extends string[]>(values: readonly [...T], def: T[number]) =>
  Type.Enum(values, { default: def });
const url = (pattern: RegExp, scheme: string) =>
  Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => pattern.test(v),
      () => `must start with ${scheme}`,
    ),
  );

/**
 * DNS_SERVERS as node:dns's setServers takes it: IP addresses, comma-separated, each with an optional
 * port (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`); undefined when an entry is not one.
 */
export function dnsServerList(text: string): string[] | undefined {
  const entries = text.split(',').map((s) => s.trim());
  const valid = (entry: string) => {
    const m = /^\[(.+)\]:(\d{1,5})$/.exec(entry) ?? /^([^:]+):(\d{1,5})$/.exec(entry);
    if (!m) return isIP(entry) !== 0;
    return isIP(m[1]) !== 0 && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
  };
  return entries.every(valid) ? entries : undefined;
}

/** Every variable the service reads, with its type, bounds and default. */
export const envSchema = Type.Object({
  APP_ENV: oneOf(['development', 'test', 'production'], 'development'),
  PORT: int(8000, 0, 65535),
  /** Unset: loopback in development (the dev inbox holds every code), all interfaces otherwise. */
  HOST: optionalText,
  TRUST_PROXY: optionalText,
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  DATABASE_URL: url(/^postgres(ql)?:\/\//, 'postgres://'),
  DATA_DIR: Type.String({ default: './data' }),
  /** The longest wait for PostgreSQL: for a connection, and for a query's answer. */
  DB_QUERY_TIMEOUT_MS: int(5000, 100, 600_000),
  REDIS_URL: url(/^rediss?:\/\//, 'redis://'),
  JWT_SECRET: optionalText,
  OTP_SECRET: optionalText,
  ACCESS_TOKEN_TTL_SECONDS: int(900, 60, 86400),
  REFRESH_TOKEN_TTL_SECONDS: int(30 * 86400, 300),
  OTP_LENGTH: int(6, 4, 10),
  OTP_TTL_SECONDS: int(600, 30, 86400),
  OTP_MAX_ATTEMPTS: int(5, 1, 100),
  OTP_RESEND_COOLDOWN_SECONDS: int(60, 0, 3600),
  OTP_MAX_SENDS_PER_HOUR: int(5, 1, 10000),
  RATE_LIMIT_IP_PER_MINUTE: int(60, 1, 1_000_000),
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: int(10, 1, 1_000_000),
  LOGIN_MAX_FAILURES: int(5, 1, 100),
  /** Who may sign in with a code instead of a password: by email, by phone (off where SIM swaps are feared), both, neither. */
  CODE_LOGIN: oneOf(['email,phone', 'phone,email', 'email', 'phone', 'off'], 'email,phone'),
  OTP_MAX_FAILURES_PER_DAY: int(20, 1, 10_000),
  PASSWORD_HASH_CONCURRENCY: int(availableParallelism(), 1, 1024),
  REQUEST_TIMEOUT_SECONDS: int(10, 1, 600),
  UNVERIFIED_ACCOUNT_TTL_HOURS: int(72, 1, 24 * 365),
  /** Days a message is kept once final (no longer queued or sending): the delivery log's reach. */
  MESSAGE_RETENTION_DAYS: int(30, 1, 3650),
  /** Days an account's event is kept (accounts/events.ts). */
  ACCOUNT_EVENT_RETENTION_DAYS: int(365, 1, 3650),
  /** Two letters, either case: upper-cased when the configuration is loaded. */
  DEFAULT_PHONE_REGION: Type.String({ minLength: 2, maxLength: 2, default: 'ZA' }),
  /** ISO 3166 codes, comma-separated, or `*`; unset: the country of DEFAULT_PHONE_REGION. */
  SMS_ALLOWED_COUNTRIES: optionalText,
  SMS_MAX_PER_ACCOUNT_PER_HOUR: int(5, 1, 10_000),
  SMS_NEW_NUMBERS_PER_DAY: int(3, 1, 10_000),
  /** The brake's ceiling for codes to new numbers (any number not verified on the asking account). */
  SMS_MAX_PER_HOUR: int(1000, 1, 100_000_000),
  /** The brake's ceiling for codes to the number verified on the account (unlock, and every later code). */
  SMS_PROVEN_MAX_PER_HOUR: int(1000, 1, 100_000_000),
  /** Past a ceiling, SMS each requester network (IPv4 /24, IPv6 /48) may still send an hour; 0: none. */
  SMS_BRAKE_NETWORK_SHARE: int(3, 0, 100_000),
  /** Past SMS_MAX_PER_HOUR, codes a number range may be sent (today and yesterday) before its verification rate counts. */
  SMS_BRAKE_RANGE_PROBATION: int(10, 0, 1_000_000),
  /** Past SMS_MAX_PER_HOUR, the share of a range's codes that must have been verified for new numbers in it to get one. */
  SMS_BRAKE_RANGE_MIN_VERIFIED_PERCENT: int(20, 0, 100),
  SMTP_SERVER: optionalText,
  SMTP_PORT: int(587, 1, 65535),
  /** Connections kept open to the SMTP server: each message reuses one instead of a new TLS + AUTH. */
  SMTP_MAX_CONNECTIONS: int(5, 1, 100),
  SMTP_USERNAME: optionalText,
  SMTP_PASSWORD: optionalText,
  SMTP_TLS_REJECT_UNAUTHORIZED: bool(true),
  FROM_EMAIL: optionalText,
  /** The selector your mail provider signs with: doctor looks for `<selector>._domainkey.<From domain>`. */
  DKIM_SELECTOR: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(v),
      () => 'must be a DNS label such as s1 or google',
    ),
  ),
  /** The DNS servers doctor asks about the From domain; unset: the system's. */
  DNS_SERVERS: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => dnsServerList(v) !== undefined,
      () => 'must be IP addresses, comma-separated, each with an optional :port (1.1.1.1,[2606:4700::1111]:53)',
    ),
  ),
  SMS_PROVIDER: Type.Optional(Type.Enum(['twilio', 'http'])),
  SMS_API_URL: optionalText,
  SMS_API_KEY: optionalText,
  SMS_ACCOUNT_SID: optionalText,
  SMS_FROM: optionalText,
  /** A second provider per channel: the next attempt after a temporary failure or an account-side refusal goes through it. */
  SMS_FALLBACK_PROVIDER: Type.Optional(Type.Enum(['twilio', 'http'])),
  SMS_FALLBACK_API_URL: optionalText,
  SMS_FALLBACK_API_KEY: optionalText,
  SMS_FALLBACK_ACCOUNT_SID: optionalText,
  SMS_FALLBACK_FROM: optionalText,
  /** The channels a phone code may take, in order: the same code moves to the next when one fails. */
  PHONE_CHANNELS: Type.String({ default: 'sms' }),
  /** PHONE_CHANNELS per calling country: `ZA=whatsapp,sms,voice;NA=sms,voice`. */
  PHONE_CHANNELS_BY_COUNTRY: optionalText,
  /** With receipts, how long a channel has to report `delivered` before the code moves to the next. */
  PHONE_FALLBACK_AFTER_SECONDS: int(30, 1, 3600),
  WHATSAPP_PROVIDER: Type.Optional(Type.Enum(['twilio', 'meta'])),
  /** Twilio: the WhatsApp sender (+E164). */
  WHATSAPP_FROM: optionalText,
  /** Twilio: the approved Content template (HX…); Meta: the authentication template's name. */
  WHATSAPP_TEMPLATE: optionalText,
  WHATSAPP_API_URL: optionalText,
  /** Twilio: defaults to SMS_API_KEY; Meta: the access token. */
  WHATSAPP_API_KEY: optionalText,
  WHATSAPP_PHONE_NUMBER_ID: optionalText,
  /** Meta: the WhatsApp Business Account, for doctor's check that the template is approved. */
  WHATSAPP_BUSINESS_ACCOUNT_ID: optionalText,
  WHATSAPP_APP_SECRET: optionalText,
  WHATSAPP_VERIFY_TOKEN: optionalText,
  /** WhatsApp codes sent per hour, everyone's, before its brake holds. */
  WHATSAPP_MAX_PER_HOUR: int(1000, 1, 100_000_000),
  VOICE_PROVIDER: Type.Optional(Type.Enum(['twilio'])),
  VOICE_FROM: optionalText,
  VOICE_API_URL: optionalText,
  /** Calls per hour, everyone's, before its brake holds: calls to premium numbers are the oldest toll fraud. */
  VOICE_MAX_PER_HOUR: int(200, 1, 100_000_000),
  SMTP_FALLBACK_SERVER: optionalText,
  SMTP_FALLBACK_PORT: int(587, 1, 65535),
  SMTP_FALLBACK_USERNAME: optionalText,
  SMTP_FALLBACK_PASSWORD: optionalText,
  DELIVERY_WORKER: oneOf(['on', 'off'], 'on'),
  DELIVERY_RETRY_BASE_SECONDS: Type.Number({ default: 5, minimum: 0 }),
  DELIVERY_MAX_ATTEMPTS: int(8, 1, 100),
  DELIVERY_LEASE_SECONDS: int(60, 1, 3600),
  DELIVERY_POLL_MS: int(1000, 10, 60000),
  /**
   * Sends in flight per channel and worker: a slow channel fills its own slots, never the other's.
   * Well above SMTP_MAX_CONNECTIONS, so that the pool always has the next message while the worker
   * claims more (bench/RESULTS.md, issue 19: 10 left the pool's connections waiting on the claims).
   */
  DELIVERY_CONCURRENCY: int(40, 1, 1000),
  /** On SIGTERM, how long sends in flight may finish before their messages go back to the queue. */
  SHUTDOWN_TIMEOUT_SECONDS: int(10, 0, 3600),
  /** The address providers reach this service at: receipts (Twilio's StatusCallback) are asked for only when set. */
  PUBLIC_URL: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => /^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(v),
      () => 'must be an http(s) URL without query or fragment',
    ),
  ),
  /** Keys of the HMAC-SHA256 signatures on the generic SMS provider's receipts and on email events. */
  SMS_WEBHOOK_SECRET: optionalText,
  EMAIL_WEBHOOK_SECRET: optionalText,
  /** The language of an account that named none (neither `locale` at registration nor Accept-Language). */
  DEFAULT_LOCALE: oneOf(LOCALE_CODES, FALLBACK_LOCALE),
  /** A folder of templates laid out like templates/ in this repository: each file found there replaces the built-in one. */
  TEMPLATES_DIR: optionalText,
  /** The name every message signs with ({{app_name}}). */
  APP_NAME: Type.String({ minLength: 1, maxLength: 40, default: 'Panic System' }),
  /** The one link a message may carry ({{support_url}}). */
  SUPPORT_URL: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => /^https?:\/\/[^\s"'<>]+$/.test(v),
      () => 'must be an http(s) URL',
    ),
  ),
  /** The 11-character hash of the Android app that reads codes with the SMS Retriever API: added to every SMS. */
  ANDROID_APP_HASH: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => /^[A-Za-z0-9+/]{11}$/.test(v),
      () => 'must be the 11-character hash the SMS Retriever API gives (letters, digits, + and /)',
    ),
  ),
  ADMIN_TOKEN: optionalText,
  DEV_INBOX_TOKEN: optionalText,
  /** The platform's services told of account changes (delivery/webhooks.ts): http(s) URLs, comma-separated. */
  WEBHOOK_URLS: optionalText,
  /** The key their signatures are made with, as Standard Webhooks gives it: `whsec_` and base64 of 24 to 64 bytes. */
  WEBHOOK_SECRET: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => webhookKey(v) !== undefined,
      () => 'must be whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))',
    ),
  ),
  /** How long one webhook request may take before it counts as failed (and is tried again). */
  WEBHOOK_TIMEOUT_SECONDS: int(10, 1, 60),
  /** Webhook requests in flight per endpoint and worker: apart from the codes' own. */
  WEBHOOK_CONCURRENCY: int(10, 1, 1000),
  /** How long a webhook is tried again, from its event, before it ends failed. */
  WEBHOOK_RETRY_HOURS: int(72, 1, 24 * 30),
  /** A separate listener for /metrics, so the public port never serves it. */
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  /** The interface METRICS_PORT listens on; unset: loopback (its counters say which addresses have accounts). */
  METRICS_HOST: optionalText,
  /** App-store reviewers' destinations with their fixed codes: `+27820000001=482913,review@example.com=135790`. */
  TEST_OTP_DESTINATIONS: optionalText,
  /** The last day (UTC) TEST_OTP_DESTINATIONS work; required outside development. */
  TEST_OTP_VALID_UNTIL: Type.Optional(
    Type.Refine(
      Type.String(),
      (v) => validityEnd(v) !== undefined,
      () => 'must be a date, YYYY-MM-DD (the last day, UTC, the test destinations work)',
    ),
  ),
});

export type Env = Static<typeof envSchema>;

export interface Config
  extends Omit<
    Env,
    | 'JWT_SECRET'
    | 'OTP_SECRET'
    | 'HOST'
    | 'METRICS_HOST'
    | 'TRUST_PROXY'
    | 'SMS_ALLOWED_COUNTRIES'
    | 'PHONE_CHANNELS'
    | 'PHONE_CHANNELS_BY_COUNTRY'
    | 'TEST_OTP_DESTINATIONS'
    | 'WEBHOOK_URLS'
  > {
  JWT_SECRET: string;
  OTP_SECRET: string;
  HOST: string;
  METRICS_HOST: string;
  TRUST_PROXY: TrustProxy;
  /** ISO 3166 codes SMS may go to; '*' is every country. */
  SMS_ALLOWED_COUNTRIES: ReadonlySet<string> | '*';
  /** A phone code's channels, in order, and per calling country where PHONE_CHANNELS_BY_COUNTRY says. */
  PHONE_CHANNELS: readonly PhoneChannel[];
  PHONE_CHANNELS_BY_COUNTRY: ReadonlyMap<string, readonly PhoneChannel[]>;
  /** Each test destination in its normal form, with its fixed code (a secret: never logged or printed). */
  TEST_OTP_DESTINATIONS: ReadonlyMap<string, string>;
  /** The endpoints told of account changes, in the order given. */
  WEBHOOK_URLS: readonly WebhookEndpoint[];
  /** Development conveniences (dev inbox, codes in the fallback log line) are on. */
  isDevelopment: boolean;
  /** Secrets that were not set and fell back to the development defaults. */
  defaultedSecrets: string[];
}

export class ConfigError extends Error {}

/**
 * Parses and validates the environment once; throws ConfigError naming every bad variable. doctor
 * passes `productionSecrets: 'report'` to read the rest of a production configuration whose secrets
 * it reports itself (with the same rule, productionSecretProblems).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: { productionSecrets?: 'refuse' | 'report' } = {},
): Config {
  const { value: e, problems } = readEnv(envSchema, env);
  let trustProxy: TrustProxy = false;
  try {
    trustProxy = parseTrustProxy(e.TRUST_PROXY);
  } catch (err) {
    problems.push(`TRUST_PROXY: ${(err as Error).message}`);
  }
  let phoneChannels: PhoneChannel[] = [];
  let byCountry = new Map<string, PhoneChannel[]>();
  try {
    phoneChannels = parseChannelList(e.PHONE_CHANNELS);
  } catch (err) {
    problems.push(`PHONE_CHANNELS: ${(err as Error).message}`);
  }
  try {
    byCountry = parseChannelsByCountry(e.PHONE_CHANNELS_BY_COUNTRY);
  } catch (err) {
    problems.push(`PHONE_CHANNELS_BY_COUNTRY: ${(err as Error).message}`);
  }
  let webhookEndpoints: WebhookEndpoint[] = [];
  try {
    webhookEndpoints = parseWebhookUrls(e.WEBHOOK_URLS, e.APP_ENV === 'production');
  } catch (err) {
    problems.push(`WEBHOOK_URLS: ${(err as Error).message}`);
  }
  if (webhookEndpoints.length && !e.WEBHOOK_SECRET)
    problems.push(
      'WEBHOOK_SECRET: must be set with WEBHOOK_URLS, to sign what they are sent (whsec_ and the base64 of 24 to 64 random bytes)',
    );
  // A request that may outlast its lease would be taken over by another worker and sent twice.
  if (webhookEndpoints.length && e.DELIVERY_LEASE_SECONDS <= e.WEBHOOK_TIMEOUT_SECONDS)
    problems.push(
      `DELIVERY_LEASE_SECONDS: must be longer than WEBHOOK_TIMEOUT_SECONDS (${e.WEBHOOK_TIMEOUT_SECONDS}) when WEBHOOK_URLS is set`,
    );
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const defaultedSecrets: string[] = [];
  const secret = (name: SecretName): string => {
    const value = e[name];
    if (e.APP_ENV === 'production') return value ?? '';
    if (!value) defaultedSecrets.push(name);
    return value ?? DEV_SECRETS[name];
  };
  if (e.APP_ENV === 'production' && trustProxy === true) {
    throw new ConfigError(
      'TRUST_PROXY=true trusts whatever X-Forwarded-For a client sends, so every forged value gets a fresh ' +
        'rate-limit budget. In production set the number of proxies in front of the service (e.g. TRUST_PROXY=1) ' +
        'or their addresses (e.g. TRUST_PROXY=10.0.0.0/8).',
    );
  }
  const region = e.DEFAULT_PHONE_REGION.toUpperCase();
  let allowedCountries: Config['SMS_ALLOWED_COUNTRIES'];
  try {
    allowedCountries = parseAllowedCountries(e.SMS_ALLOWED_COUNTRIES, region);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  SMS_ALLOWED_COUNTRIES: ${(err as Error).message}`, { cause: err });
  }
  let testDestinations: Config['TEST_OTP_DESTINATIONS'];
  try {
    testDestinations = parseTestDestinations(e.TEST_OTP_DESTINATIONS, {
      otpLength: e.OTP_LENGTH,
      region,
      allowedCountries,
    });
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  TEST_OTP_DESTINATIONS: ${(err as Error).message}`, { cause: err });
  }
  if (testDestinations.size && !e.TEST_OTP_VALID_UNTIL && e.APP_ENV !== 'development') {
    throw new ConfigError(
      `TEST_OTP_DESTINATIONS is set but TEST_OTP_VALID_UNTIL is not: outside development (APP_ENV=${e.APP_ENV}) the fixed codes ` +
        "need a last day, so that a reviewer's destination does not stay a way into its account once the review is over. " +
        'Set TEST_OTP_VALID_UNTIL to the last day of the review (YYYY-MM-DD, UTC), or remove TEST_OTP_DESTINATIONS.',
    );
  }
  if (e.APP_ENV === 'production' && opts.productionSecrets !== 'report') {
    const weak = productionSecretProblems(e);
    if (weak.length) {
      throw new ConfigError(
        `APP_ENV=production refuses these secrets: ${weak.join('; ')}.\n` +
          'Set each to a different random string of at least 32 characters (generate one with: openssl rand -hex 32); ' +
          'ADMIN_TOKEN, SMS_WEBHOOK_SECRET, EMAIL_WEBHOOK_SECRET and WEBHOOK_SECRET may instead be unset, which switches their endpoints off.',
      );
    }
  }
  if (e.APP_ENV === 'production' && e.METRICS_PORT && !e.ADMIN_TOKEN) {
    throw new ConfigError(
      'METRICS_PORT is set but ADMIN_TOKEN is not: outside development /metrics answers only with the admin token. ' +
        'Set ADMIN_TOKEN (openssl rand -hex 32) for your scraper to send, or unset METRICS_PORT.',
    );
  }
  return {
    ...e,
    HOST: e.HOST ?? (e.APP_ENV === 'development' ? '127.0.0.1' : '0.0.0.0'),
    METRICS_HOST: e.METRICS_HOST ?? '127.0.0.1',
    PUBLIC_URL: e.PUBLIC_URL?.replace(/\/+$/, ''),
    TRUST_PROXY: trustProxy,
    DEFAULT_PHONE_REGION: region,
    SMS_ALLOWED_COUNTRIES: allowedCountries,
    PHONE_CHANNELS: phoneChannels,
    PHONE_CHANNELS_BY_COUNTRY: byCountry,
    TEST_OTP_DESTINATIONS: testDestinations,
    WEBHOOK_URLS: webhookEndpoints,
    JWT_SECRET: secret('JWT_SECRET'),
    OTP_SECRET: secret('OTP_SECRET'),
    isDevelopment: e.APP_ENV === 'development',
    defaultedSecrets,
  };
}
