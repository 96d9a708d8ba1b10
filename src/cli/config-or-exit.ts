import { ConfigError, loadConfig, type Config } from '../config/settings.ts';

/** The configuration of a command that opens the database itself; a bad setting is a usage error (exit 2). */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
}

/**
 * A setting refused later, when the service starts (TEST_OTP_VALID_UNTIL, judged by its clock), exits
 * as one refused by loadConfig: its sentence on stderr, exit 2. Any other error is thrown on.
 */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
