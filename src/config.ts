import { z } from 'zod';
import { isPlaceholder } from './delivery/placeholders.ts';

/** Development-only secrets: usable in development and test, refused in production. */
export const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-in-production-0000';
export const DEV_OTP_SECRET = 'dev-only-otp-secret-change-me-in-production-0000';

/** `PORT=` (empty, as compose passes an unset variable) means "not set", not 0. */
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(blankIsUnset, z.coerce.number().int().min(min).max(max).default(def));
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .default(def ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const schema = z.object({
  APP_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: int(8000, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  TRUST_PROXY: bool(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optionalText.pipe(z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres://').optional()),
  DATA_DIR: z.string().default('./data'),
  REDIS_URL: optionalText.pipe(z.string().regex(/^rediss?:\/\//, 'must start with redis://').optional()),
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
  LOGIN_MAX_FAILURES: int(5, 1, 100),
  DEFAULT_PHONE_REGION: z.string().length(2).toUpperCase().default('ZA'),
  SMTP_SERVER: optionalText,
  SMTP_PORT: int(587, 1, 65535),
  SMTP_USERNAME: optionalText,
  SMTP_PASSWORD: optionalText,
  SMTP_TLS_REJECT_UNAUTHORIZED: bool(true),
  FROM_EMAIL: optionalText,
  SMS_PROVIDER: optionalText.pipe(z.enum(['twilio', 'http']).optional()),
  SMS_API_URL: optionalText,
  SMS_API_KEY: optionalText,
  SMS_ACCOUNT_SID: optionalText,
  SMS_FROM: optionalText,
  DELIVERY_WORKER: z.enum(['on', 'off']).default('on'),
  DELIVERY_RETRY_BASE_SECONDS: z.preprocess(blankIsUnset, z.coerce.number().min(0).default(5)),
  DELIVERY_MAX_ATTEMPTS: int(8, 1, 100),
  DELIVERY_LEASE_SECONDS: int(60, 1, 3600),
  DELIVERY_POLL_MS: int(1000, 10, 60000),
  ADMIN_TOKEN: optionalText,
});

export type Env = z.infer<typeof schema>;

export interface Config extends Omit<Env, 'JWT_SECRET' | 'OTP_SECRET'> {
  JWT_SECRET: string;
  OTP_SECRET: string;
  /** Development conveniences (dev inbox, codes in the fallback log line) are on. */
  isDevelopment: boolean;
  /** Secrets that were not set and fell back to the development defaults. */
  defaultedSecrets: string[];
}

export class ConfigError extends Error {}

/** Parses and validates the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const defaultedSecrets: string[] = [];
  const secret = (name: 'JWT_SECRET' | 'OTP_SECRET', dev: string): string => {
    const value = e[name];
    if (e.APP_ENV === 'production') {
      if (!value || value.length < 32 || value === dev || isPlaceholder(value)) {
        throw new ConfigError(
          `${name} must be set to a random string of at least 32 characters when APP_ENV=production ` +
            `(generate one with: openssl rand -hex 32)`,
        );
      }
      return value;
    }
    if (!value) defaultedSecrets.push(name);
    return value ?? dev;
  };
  return {
    ...e,
    JWT_SECRET: secret('JWT_SECRET', DEV_JWT_SECRET),
    OTP_SECRET: secret('OTP_SECRET', DEV_OTP_SECRET),
    isDevelopment: e.APP_ENV === 'development',
    defaultedSecrets,
  };
}
