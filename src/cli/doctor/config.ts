import { ConfigError, loadConfig, type Config } from '../../config.ts';
import { SECRET_NAMES, secretProblem } from '../../secrets.ts';
import { isPlaceholder } from '../../placeholders.ts';
import { fail, ok, warn, type Check } from './types.ts';

const STAND_IN = '-doctor-stand-in';

export interface ConfigResult {
  check: Check;
  /** The parsed settings, when they parse; production secrets are judged by checkSecrets instead. */
  config?: Config;
}

/** The variable names a ConfigError talks about ("SMTP_PORT: …" lines, or "JWT_SECRET must …"). */
function namesIn(err: ConfigError): string[] {
  return [...new Set(err.message.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? [])];
}

/**
 * Every setting parses and is in range. Production secrets are left to checkSecrets, so that a
 * production deployment with a missing JWT_SECRET still gets its database, SMTP and SMS checked.
 */
export function checkConfig(env: NodeJS.ProcessEnv): ConfigResult {
  try {
    const config = loadConfig(env);
    return { check: ok('config', `All settings are valid (APP_ENV=${config.APP_ENV})`), config };
  } catch (first) {
    if (!(first instanceof ConfigError)) throw first;
    let err = first;
    // Production refuses development secrets: parse again with stand-ins for them, so every other
    // production rule (TRUST_PROXY=true, …) is still judged here.
    if (env.APP_ENV === 'production') {
      try {
        const relaxed = loadConfig({ ...env, JWT_SECRET: 'j'.repeat(32) + STAND_IN, OTP_SECRET: 'o'.repeat(32) + STAND_IN });
        const config: Config = { ...relaxed, JWT_SECRET: env.JWT_SECRET ?? '', OTP_SECRET: env.OTP_SECRET ?? '' };
        return { check: ok('config', 'All settings are valid (APP_ENV=production; secrets: see below)'), config };
      } catch (second) {
        if (!(second instanceof ConfigError)) throw second;
        err = second; // a real error besides the secrets: reported below
      }
    }
    const names = namesIn(err);
    const detail = err.message.replace(/^Invalid configuration:\s*/, '').split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    return {
      check: fail(
        'config',
        `Configuration is invalid: ${detail}`,
        `Fix ${names.length ? names.join(', ') : 'the variables named'} in the environment or in .env (in the working directory); the service refuses to start until then. ` +
          'The other checks were skipped.',
      ),
    };
  }
}

/** APP_ENV and the signing secrets: real in production, development defaults (with a warning) elsewhere. */
export function checkSecrets(env: NodeJS.ProcessEnv, config: Config): Check {
  if (config.APP_ENV === 'production') {
    const problems = SECRET_NAMES.map((n) => secretProblem(n, env[n])).filter((p): p is string => p !== undefined);
    const admin = env.ADMIN_TOKEN?.trim();
    if (problems.length) {
      return fail(
        'secrets',
        `APP_ENV=production but ${problems.join(', ')}`,
        'Set JWT_SECRET and OTP_SECRET to different random strings of at least 32 characters (openssl rand -hex 32); ' +
          'production refuses to start without them.',
      );
    }
    if (admin && (isPlaceholder(admin) || admin.length < 24)) {
      return warn(
        'secrets',
        'APP_ENV=production, JWT_SECRET and OTP_SECRET set; but ADMIN_TOKEN is weak (placeholder or under 24 characters)',
        'Set ADMIN_TOKEN to a random string (openssl rand -hex 32), or unset it to switch the admin endpoints off.',
      );
    }
    return ok('secrets', 'APP_ENV=production, JWT_SECRET and OTP_SECRET are set and not the development defaults');
  }
  const defaulted = config.defaultedSecrets;
  const using = defaulted.length ? `using development secrets (${defaulted.join(', ')} not set)` : 'JWT_SECRET and OTP_SECRET set';
  if (config.APP_ENV === 'development') {
    return warn(
      'secrets',
      `APP_ENV=development: ${using}; the dev inbox is on and codes appear in the log`,
      'Fine on a workstation. To deploy, set APP_ENV=production with JWT_SECRET and OTP_SECRET (openssl rand -hex 32).',
    );
  }
  if (defaulted.length) {
    return warn(
      'secrets',
      `APP_ENV=test: ${using}; test accepts them, production would not`,
      'Only for tests: real users need APP_ENV=production with JWT_SECRET and OTP_SECRET (openssl rand -hex 32).',
    );
  }
  return ok('secrets', 'APP_ENV=test, JWT_SECRET and OTP_SECRET are set');
}
