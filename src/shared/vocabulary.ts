/**
 * The service's words for its codes and messages, each with what people are shown for it: the one
 * list of purposes, channels and message states that storage, delivery, the API, the CLI and the dev
 * inbox all use. Imports nothing, so every layer may import it.
 */

/**
 * Why a code was sent: how each purpose is named in a list and a log line, the channels its code goes
 * by (its messages' words are in templates/), and whether the code alone opens the account (a session:
 * those purposes share one guess budget, otp/store.ts).
 */
export const PURPOSES = {
  email_verification: { label: 'Email verification', logWord: 'verification', channels: ['email'], signsIn: false },
  phone_verification: {
    label: 'Phone verification',
    logWord: 'verification',
    channels: ['sms', 'whatsapp', 'voice'],
    signsIn: false,
  },
  password_reset: { label: 'Password reset', logWord: 'password reset', channels: ['email'], signsIn: true },
  unlock: { label: 'Unlock', logWord: 'unlock', channels: ['email', 'sms', 'whatsapp', 'voice'], signsIn: false },
  login: { label: 'Sign-in', logWord: 'sign-in', channels: ['email', 'sms', 'whatsapp', 'voice'], signsIn: true },
  // proves the inbox of the address an account asked to move to (the code's destination)
  email_change: { label: 'Email change', logWord: 'email change', channels: ['email'], signsIn: false },
} as const satisfies Record<string, { label: string; logWord: string; channels: readonly Channel[]; signsIn: boolean }>;
export type OtpPurpose = keyof typeof PURPOSES;

/**
 * Messages that carry no code: they tell the person something happened to their account. They go
 * through the same outbox as codes (a `messages` row with no otp and no code_id, so nothing makes them
 * stale) and are written from templates/<notice>/ like a code's message, never with a code in them.
 */
export const NOTICES = {
  email_changed: { label: 'Email changed', logWord: 'email change notice', channels: ['email'] },
} as const satisfies Record<string, { label: string; logWord: string; channels: readonly Channel[] }>;
export type Notice = keyof typeof NOTICES;
export const isNotice = (purpose: string): purpose is Notice => Object.hasOwn(NOTICES, purpose);

/** Why a message was sent: a code's purpose, or a notice. */
export type MessagePurpose = OtpPurpose | Notice;
export const MESSAGE_PURPOSES = { ...PURPOSES, ...NOTICES };

/** A message's purpose label, or the name itself when a newer server sends one this build does not know. */
export const purposeLabel = (purpose: string): string =>
  (MESSAGE_PURPOSES as Record<string, { label: string }>)[purpose]?.label ?? purpose;

export const CHANNELS = ['email', 'sms', 'whatsapp', 'voice'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The channels that reach a phone: a phone code takes them in the order PHONE_CHANNELS gives, one after another. */
export const PHONE_CHANNELS = ['sms', 'whatsapp', 'voice'] as const satisfies readonly Channel[];
export type PhoneChannel = (typeof PHONE_CHANNELS)[number];
export const isPhoneChannel = (channel: string): channel is PhoneChannel =>
  (PHONE_CHANNELS as readonly string[]).includes(channel);

/** How a session began: a password (a reset code stands in for one), or a sign-in code. */
export const SESSION_METHODS = ['password', 'code'] as const;
export type SessionMethod = (typeof SESSION_METHODS)[number];

/** A channel as people read it. */
export const CHANNEL_LABELS: Record<Channel, string> = {
  email: 'email',
  sms: 'SMS',
  whatsapp: 'WhatsApp',
  voice: 'voice call',
};

/** Where a provider's circuit breaker stands: sending, paused after failures, or letting one probe through. */
export type BreakerPosition = 'closed' | 'open' | 'half-open';

/** The states of a message in the outbox, in the order they are listed, with what each means. */
export const MESSAGE_STATUSES = {
  queued: { final: false, help: 'Waiting to be sent.' },
  sending: { final: false, help: 'Being sent now.' },
  sent: { final: true, help: 'Accepted by the provider; no receipt yet.' },
  delivered: { final: true, help: 'The provider reported it delivered to the phone or mail server.' },
  undelivered: { final: true, help: 'The provider accepted it but the carrier did not deliver it: see the reason.' },
  bounced: { final: true, help: "The recipient's mail server refused it: see the reason." },
  failed: { final: true, help: 'Delivery failed: see the reason.' },
  suppressed: { final: true, help: 'Not sent: the address bounced or complained before (see the reason).' },
  captured: {
    final: true,
    help: 'Not delivered: kept here because the channel is not configured or its send failed (development only), or because its destination is a test destination (TEST_OTP_DESTINATIONS).',
  },
  expired: { final: true, help: 'Not sent: its code expired before it could be sent.' },
  superseded: { final: true, help: 'Not sent: a newer code replaced its code before it could be sent.' },
  withdrawn: {
    final: true,
    help: 'Not sent: its code reached the person on an earlier channel, or was used, before its turn came.',
  },
  cancelled: { final: true, help: 'Not sent: its account was deleted before it went.' },
} as const;
export type MessageStatus = keyof typeof MESSAGE_STATUSES;

/** The reason (`last_error`) of a message written `captured` because its destination is a test destination (TEST_OTP_DESTINATIONS). */
export const TEST_DESTINATION = 'test destination';

export const ALL_STATUSES = Object.keys(MESSAGE_STATUSES) as MessageStatus[];
/** States a message never leaves: retention may remove it, its body is redacted. */
export const FINAL_STATUSES = ALL_STATUSES.filter((s) => MESSAGE_STATUSES[s].final);
/** States of a message still to be sent. */
export const PENDING_STATUSES = ALL_STATUSES.filter((s) => !MESSAGE_STATUSES[s].final);

/** What a message's history records, one event per step, with what each means. */
export const MESSAGE_EVENT_KINDS = {
  queued: 'Queued (with its code, unless it is a notice).',
  attempt_failed: 'A send was tried and did not go through.',
  sent: 'Accepted by the provider.',
  receipt: 'The provider reported on its delivery.',
  expired: 'Its code expired before it could be sent: not sent.',
  suppressed: 'Not sent: the address is on the suppression list.',
  superseded: 'A newer code replaced its code before it could be sent: not sent.',
  moved: 'Its code moved on to the next channel (the reason says why).',
  withdrawn: 'Not needed: its code was delivered on an earlier channel, or used, before its turn came.',
  verified: 'Its code was used: the person entered it (recorded on the message that carried it last).',
  test_destination: 'Not sent: its destination is a test destination (TEST_OTP_DESTINATIONS), whose code is fixed.',
  test_code_used: "A test destination's fixed code was used.",
  erased:
    "Its account was deleted: the message's address, body and errors were erased (its history stays until retention).",
} as const;
export type MessageEventKind = keyof typeof MESSAGE_EVENT_KINDS;
export const EVENT_KINDS = Object.keys(MESSAGE_EVENT_KINDS) as MessageEventKind[];

/**
 * What an account's event log records, one event per change, written in the change's own transaction
 * (accounts/events.ts), with what each means. `webhook`: the type platform services are sent for it
 * (delivery/webhooks.ts); the other kinds stay in the log. Events hold facts (addresses, numbers, how a
 * sign-in went), never a code, a password or a token.
 */
export const ACCOUNT_EVENTS = {
  registered: {
    help: 'The account was created, or a pending (unverified) registration of its address replaced.',
    webhook: 'user.registered',
  },
  email_verified: { help: 'The email address was proven with a code.', webhook: 'user.email_verified' },
  phone_verified: {
    help: 'A phone number was proven with a code while the account had no other verified number.',
    webhook: 'user.phone_verified',
  },
  phone_changed: {
    help: 'The verified phone number was replaced by a new one, proven with a code.',
    webhook: 'user.phone_changed',
  },
  email_changed: {
    help: 'The email address was replaced by a new one, proven with a code.',
    webhook: 'user.email_changed',
  },
  login_succeeded: {
    help: 'A sign-in started a session: how (password or code), and whether from a network new to the account.',
  },
  login_failed: {
    help: 'A sign-in was refused: a wrong password, or an email not verified yet; or a signed-in change was given a wrong current password (during says which).',
  },
  login_throttled: { help: 'Failed sign-ins blocked the next ones for a while (the login throttle).' },
  unlocked: { help: 'An unlock code lifted the login throttle.' },
  password_reset: {
    help: 'The password was set with a reset code; every session ended (sessions_ended says how many).',
  },
  password_changed: {
    help: 'The signed-in person changed the password with the current one; every other session ended (sessions_ended).',
  },
  session_revoked: {
    help: 'Sessions ended: a logout, one ended from another session, every other one (revoke-others), or all of them by support.',
  },
  refresh_reuse_detected: {
    help: 'A refresh token already used came back (two parties held it): its session ended.',
    webhook: 'security.refresh_reuse_detected',
  },
  account_deleted: { help: 'The account was deleted.', webhook: 'user.deleted' },
  code_sent_by_support: {
    help: "Support sent the person a new code of a purpose, by a channel, to the account's own address.",
  },
  suppression_lifted: {
    help: "Support took the account's email address off the suppression list (its mail had bounced, or its owner complained).",
  },
} as const satisfies Record<string, { help: string; webhook?: string }>;
export type AccountEventType = keyof typeof ACCOUNT_EVENTS;

/**
 * The facts of an account's events that hold an address: an account's erasure drops them from its
 * events (which stay until retention), so its address and phone are nowhere once it is deleted.
 */
export const ADDRESS_FACTS = ['email', 'previous_email', 'phone', 'previous_phone', 'address'] as const;
export const ACCOUNT_EVENT_TYPES = Object.keys(ACCOUNT_EVENTS) as AccountEventType[];

/** The webhook type platform services are sent for an event, or undefined for the kinds that stay in the log. */
export const webhookTypeOf = (type: AccountEventType): string | undefined =>
  (ACCOUNT_EVENTS[type] as { webhook?: string }).webhook;

/** Who made an account's change, as its event records it. */
export const ACTORS = {
  user: 'The person, or whoever asked in their name (a sign-in with a wrong password too): the network says from where.',
  admin: 'An operator, with the admin token.',
  system: 'The service itself: the login throttle, a reused refresh token ending its session.',
} as const;
export type Actor = keyof typeof ACTORS;
export const ACTOR_NAMES = Object.keys(ACTORS) as Actor[];
