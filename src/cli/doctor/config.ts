import { ConfigError, loadConfig, type Config } from '../../config/settings.ts';
import { productionSecretProblems } from '../../config/secrets.ts';
import { fail, ok, warn, type Check } from './types.ts';

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
    // Production's secrets are judged by checkSecrets, so every other production rule (TRUST_PROXY=true, …) is judged here.
    const config = loadConfig(env, { productionSecrets: 'report' });
    const secrets =
      config.APP_ENV === 'production' && productionSecretProblems(env).length ? '; secrets: see below' : '';
    return { check: ok('config', `All settings are valid (APP_ENV=${config.APP_ENV}${secrets})`), config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const names = namesIn(err);
    const detail = err.message
      .replace(/^Invalid configuration:\s*/, '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join('; ');
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

/** APP_ENV and the secrets: production's rule (productionSecretProblems) in production, development defaults (with a warning) elsewhere. */
export function checkSecrets(env: NodeJS.ProcessEnv, config: Config): Check {
  if (config.APP_ENV === 'production') {
    const problems = productionSecretProblems(env);
    if (problems.length) {
      return fail(
        'secrets',
        `APP_ENV=production but ${problems.join(', ')}`,
        'Set JWT_SECRET and OTP_SECRET, and ADMIN_TOKEN, SMS_WEBHOOK_SECRET and EMAIL_WEBHOOK_SECRET when set, to different random ' +
          'strings of at least 32 characters (openssl rand -hex 32); production refuses to start until then.',
      );
    }
    return ok('secrets', 'APP_ENV=production, JWT_SECRET and OTP_SECRET are set and not the development defaults');
  }
  const defaulted = config.defaultedSecrets;
  const using = defaulted.length
    ? `using development secrets (${defaulted.join(', ')} not set)`
    : 'JWT_SECRET and OTP_SECRET set';
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
