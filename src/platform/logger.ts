import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/settings.ts';

/** Secrets may hide in any of these; pino replaces them before a line is written. */
export const REDACT_PATHS = [
  'password',
  'new_password',
  'current_password',
  'otp',
  'otp_code',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.otp',
  '*.otp_code',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  // PGlite errors carry the query's parameters (hashes, emails), also as another error's cause
  'err.params',
  'err.cause.params',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.headers["set-cookie"]',
];

/** A URL with every query-string value replaced: clients do put tokens and passwords there. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=[redacted]` : '[redacted]'));
  return `${url.slice(0, q)}?${params.join('&')}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Fastify's request summary (it uses ours over its own), with the query string redacted. */
const serializers = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: req.url === undefined ? undefined : redactQuery(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
};

/**
 * Human-readable lines only for a developer watching a terminal; JSON everywhere else (production,
 * tests, pipes, files and log collectors), where a program reads the lines.
 */
export function wantsPrettyLogs(appEnv: Config['APP_ENV'], stdoutIsTTY: boolean | undefined): boolean {
  return appEnv === 'development' && stdoutIsTTY === true;
}

/**
 * One line per entry, fields after the message, so the captured code's line ("… with OTP: 482913")
 * reads at a glance; synchronous like pino's own stdout, so nothing is lost at exit.
 */
const prettyStdout = (): pino.DestinationStream =>
  // Required here (synchronously, as createLogger is), so only a developer's terminal loads it.
  (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'))({
    colorize: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    sync: true,
  });

/** Writes to `destination`, or to stdout: JSON, or pretty lines in development at a terminal. */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'APP_ENV'>,
  destination?: pino.DestinationStream,
): Logger {
  if (!destination && wantsPrettyLogs(config.APP_ENV, process.stdout.isTTY)) destination = prettyStdout();
  return pino(
    {
      level: config.LOG_LEVEL,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers,
    },
    destination,
  );
}

export type { Logger };
