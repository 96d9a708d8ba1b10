import { ConfigError, loadConfig, type Config } from '../config/settings.ts';

/** The configuration of a command that opens the database itself; a bad setting is a usage error (exit 2). */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
