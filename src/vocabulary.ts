/**
 * The service's words for its codes and messages, each with what people are shown for it: the one
 * list of purposes, channels and message states that storage, delivery, the API, the CLI and the dev
 * inbox all use. Imports nothing, so every layer may import it.
 */

/** Why a code was sent, and how each purpose is named in a message, a log line and a list. */
export const PURPOSES = {
  email_verification: { label: 'Email verification', subject: 'Verify your email address', action: 'verify your email address', logWord: 'verification' },
  phone_verification: { label: 'Phone verification', subject: 'Verify your phone number', action: 'verify your phone number', logWord: 'verification' },
  password_reset: { label: 'Password reset', subject: 'Reset your password', action: 'reset your password', logWord: 'password reset' },
  unlock: { label: 'Unlock', subject: 'Unlock your sign-in', action: 'unlock sign-in to your account', logWord: 'unlock' },
} as const;
export type OtpPurpose = keyof typeof PURPOSES;

/** A purpose's label, or the name itself when a newer server sends one this build does not know. */
export const purposeLabel = (purpose: string): string => (PURPOSES as Record<string, { label: string }>)[purpose]?.label ?? purpose;

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The states of a message in the outbox, in the order they are listed, with what each means. */
export const MESSAGE_STATUSES = {
  queued: { final: false, help: 'Waiting to be sent.' },
  sending: { final: false, help: 'Being sent now.' },
  sent: { final: true, help: 'Accepted by the provider; no receipt yet.' },
  delivered: { final: true, help: 'The provider reported it delivered to the phone or mail server.' },
  undelivered: { final: true, help: 'The provider accepted it but the carrier did not deliver it: see the reason.' },
  bounced: { final: true, help: 'The recipient\'s mail server refused it: see the reason.' },
  failed: { final: true, help: 'Delivery failed: see the reason.' },
  suppressed: { final: true, help: 'Not sent: the address bounced or complained before (see the reason).' },
  captured: { final: true, help: 'Not delivered: kept here because the channel is not configured or its send failed (development only).' },
} as const;
export type MessageStatus = keyof typeof MESSAGE_STATUSES;

export const ALL_STATUSES = Object.keys(MESSAGE_STATUSES) as MessageStatus[];
/** States a message never leaves: retention may remove it, its body is redacted. */
export const FINAL_STATUSES = ALL_STATUSES.filter((s) => MESSAGE_STATUSES[s].final);
/** States of a message still to be sent. */
export const PENDING_STATUSES = ALL_STATUSES.filter((s) => !MESSAGE_STATUSES[s].final);
