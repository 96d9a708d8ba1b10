import { isPlaceholder } from './placeholders.ts';

/** Development-only secrets: usable in development and test, refused in production. */
export const DEV_SECRETS = {
  JWT_SECRET: 'dev-only-jwt-secret-change-me-in-production-0000',
  OTP_SECRET: 'dev-only-otp-secret-change-me-in-production-0000',
} as const;
export type SecretName = keyof typeof DEV_SECRETS;
export const SECRET_NAMES = Object.keys(DEV_SECRETS) as SecretName[];
export const { JWT_SECRET: DEV_JWT_SECRET, OTP_SECRET: DEV_OTP_SECRET } = DEV_SECRETS;

/** Why a signing secret may not be used in production, or undefined when it may: the rule config and doctor share. */
export function secretProblem(name: SecretName, value: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return `${name} is not set`;
  if (v === DEV_SECRETS[name]) return `${name} is the development default`;
  if (isPlaceholder(v)) return `${name} is a placeholder value`;
  if (v.length < 32) return `${name} is shorter than 32 characters`;
  return undefined;
}
