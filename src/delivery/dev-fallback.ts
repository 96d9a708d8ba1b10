import type { Message } from '../platform/db/schema.ts';
import { MESSAGE_PURPOSES } from '../shared/vocabulary.ts';
import type { Logger } from '../platform/logger.ts';

/**
 * The development fallback's one log line, worded as the guide of the system this replaces taught
 * people to grep for. Only ever called in development: it is the one place a code is logged. A notice
 * has no code: its line says so.
 */
export function logCapturedCode(logger: Logger, message: Message, reason: string): void {
  const what = MESSAGE_PURPOSES[message.purpose].logWord;
  const carrying = message.otp === null ? '(a notice: no code)' : `with OTP: ${message.otp}`;
  const line =
    message.channel === 'email'
      ? `SMTP server not accessible, simulating ${what} email to ${message.recipient} ${carrying}`
      : `SMS provider not configured, simulating ${what} SMS to ${message.recipient} ${carrying}`;
  logger.warn({ message_id: message.id, reason, dev_inbox: '/dev/inbox' }, line);
}
