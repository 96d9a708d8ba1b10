import { isPlaceholder } from './placeholders.ts';

/** Development-only secrets: usable in development and test, refused in production. */
export const DEV_SECRETS = {
  JWT_SECRET: 'dev-only-jwt-secret-change-me-in-production-0000',
  OTP_SECRET: 'dev-only-otp-secret-change-me-in-production-0000',
} as const;
export type SecretName = keyof typeof DEV_SECRETS;
export const SECRET_NAMES = Object.keys(DEV_SECRETS) as SecretName[];
export const { JWT_SECRET: DEV_JWT_SECRET, OTP_SECRET: DEV_OTP_SECRET } = DEV_SECRETS;

/** Secrets that switch a feature on when set (admin endpoints, signed receipts, signed webhooks): set in production, held to the same rule. */
export const OPTIONAL_SECRET_NAMES = [
  'ADMIN_TOKEN',
  'SMS_WEBHOOK_SECRET',
  'EMAIL_WEBHOOK_SECRET',
  'WEBHOOK_SECRET',
] as const;

/**
 * No two of these may be equal in production: one leaked (a provider's webhook key, a dev inbox
 * token passed around a team) must not be another. DEV_INBOX_TOKEN does nothing in production, but
 * a value copied from it is one many people have seen.
 */
const DISTINCT_SECRET_NAMES = [...SECRET_NAMES, ...OPTIONAL_SECRET_NAMES, 'DEV_INBOX_TOKEN'] as const;

type SecretEnv = Partial<Record<(typeof DISTINCT_SECRET_NAMES)[number], string>>;

/** Why a secret may not be used in production, or undefined when it may: the rule config and doctor share. */
export function secretProblem(name: string, value: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return `${name} is not set`;
  if (v === DEV_SECRETS[name as SecretName]) return `${name} is the development default`;
  if (isPlaceholder(v)) return `${name} is a placeholder value`;
  if (v.length < 32) return `${name} is shorter than 32 characters`;
  return undefined;
}

/**
 * Every reason production may not start with these secrets, each naming its variables: the signing
 * secrets must be set, the optional ones may be unset, every one set must pass secretProblem, and no
 * two may be equal.
 */
export function productionSecretProblems(env: SecretEnv): string[] {
  const set = (name: (typeof DISTINCT_SECRET_NAMES)[number]) => env[name]?.trim() || undefined;
  const problems = [
    ...SECRET_NAMES.map((name) => secretProblem(name, env[name])),
    ...OPTIONAL_SECRET_NAMES.filter((name) => set(name)).map((name) => secretProblem(name, env[name])),
  ].filter((p): p is string => p !== undefined);
  const byValue = new Map<string, string[]>();
  for (const name of DISTINCT_SECRET_NAMES) {
    const value = set(name);
    if (value) byValue.set(value, [...(byValue.get(value) ?? []), name]);
  }
  for (const names of byValue.values())
    if (names.length > 1) problems.push(`${names.join(' and ')} are the same value`);
  return problems;
}
