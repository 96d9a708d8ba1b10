import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

/** Secrets may hide in any of these; pino replaces them before a line is written. */
export const REDACT_PATHS = [
  'password',
  'new_password',
  'otp',
  'otp_code',
  'code',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.new_password',
  '*.otp',
  '*.otp_code',
  '*.code',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.headers["set-cookie"]',
];

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.LOG_LEVEL,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

export type { Logger };
