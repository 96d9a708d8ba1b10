import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type {
  AccountEventType,
  Actor,
  Channel,
  MessageEventKind,
  MessagePurpose,
  MessageStatus,
  OtpPurpose,
  SessionMethod,
} from '../../shared/vocabulary.ts';
import type { Locale } from '../../shared/locales.ts';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  phone: string;
  first_name: string;
  last_name: string;
  password_hash: string | null;
  /** Re-registered with another password before verification: the password is dropped on verification. */
  password_contested: Generated<boolean>;
  /** The language of the account's messages. */
  locale: ColumnType<Locale, Locale | undefined, Locale>;
  email_verified_at: NullableTimestamp;
  phone_verified_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OtpCodesTable {
  id: Generated<string>;
  user_id: string;
  purpose: OtpPurpose;
  destination: string;
  code_hash: string;
  attempts: Generated<number>;
  expires_at: Timestamp;
  consumed_at: NullableTimestamp;
  created_at: Timestamp;
  /** A phone code's own text, sealed, so the road can send it on the next channel while it lives. */
  sealed_code: ColumnType<string | null, string | null | undefined, string | null>;
  /** Wrong guesses since failures_since, across every code of this (user, purpose). */
  failures: Generated<number>;
  failures_since: NullableTimestamp;
}

/** The long twin of a code sent by email: one row per email, alive until used or expired. */
export interface OtpLongCodesTable {
  id: Generated<string>;
  user_id: string;
  purpose: OtpPurpose;
  destination: string;
  long_hash: string;
  expires_at: Timestamp;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
  /** when its newest refresh token expires (renewed by each refresh) */
  expires_at: Timestamp;
  /** when it began, then moved by each refresh */
  last_used_at: Timestamp;
  /** the client's User-Agent, at most 200 characters */
  user_agent: string | null;
  /** the /24 or /48 it began from, never the whole address */
  network: string | null;
  method: ColumnType<SessionMethod, SessionMethod | undefined, SessionMethod>;
}

export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface LoginFailuresTable {
  /** Lower-cased email: unknown addresses are throttled exactly like known ones. */
  email: string;
  failures: number;
  blocked_until: NullableTimestamp;
  updated_at: Timestamp;
}

export interface MessagesTable {
  id: Generated<string>;
  channel: Channel;
  recipient: string;
  /** A code's purpose, or a notice (no otp, no code_id). */
  purpose: MessagePurpose;
  subject: string | null;
  /** body_text, body_html and otp hold the code: sealed ('sealed:v1:…', delivery/sealed-body.ts), or plain in rows from before sealing. */
  body_text: string;
  body_html: string | null;
  /** The code, kept for the dev inbox until the message is final; null once redacted, and for a notice. */
  otp: string | null;
  expires_at: NullableTimestamp;
  status: Generated<MessageStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  lease_until: NullableTimestamp;
  /** Set by each claim: an outcome is recorded only by the claim that holds it. */
  lease_token: string | null;
  last_error: string | null;
  provider_id: string | null;
  /** The provider's code for the last failure or refusal (Twilio's ErrorCode, an SMTP reply code). */
  provider_error_code: Generated<string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  sent_at: NullableTimestamp;
  /** The otp_codes row whose code this message carries; a replaced code has a new id (null: no code tracked). */
  code_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The language it was written in (null: written before messages had one). */
  locale: ColumnType<Locale | null, Locale | null | undefined, Locale | null>;
  /** The road's timer: sent when its time comes unless this earlier message of the code is delivered first. */
  waits_for: ColumnType<string | null, string | null | undefined, string | null>;
  /** The account it was sent for (null: written before messages had one, and not a code's). */
  user_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Rows a refused code check writes when it claimed no code, so that it costs what a claim costs. */
export interface ClaimDecoysTable {
  slot: number;
  claims: ColumnType<string, number, number>;
}

/** One step of a message's history. Never holds a code, a password or a body. */
export interface MessageEventsTable {
  id: Generated<string>;
  message_id: string;
  at: Timestamp;
  kind: MessageEventKind;
  /** The message's status once this step was taken (a failed attempt left it queued or failed). */
  status: MessageStatus;
  /** The provider that was tried: 'smtp', 'twilio', 'http'. */
  provider: string | null;
  error: string | null;
  /** The provider's answer: an HTTP status, or an SMTP reply code. */
  provider_status: number | null;
  /** The provider's error code: Twilio's (21211), or nodemailer's (EAUTH, ETLS, ECONNECTION). */
  provider_code: string | null;
  /** The provider's error as it came (jsonb, at most 1000 characters of JSON): an SMTP reply, an API's error body. */
  provider_error: ColumnType<{ [key: string]: unknown } | null, string | null | undefined, string | null>;
  duration_ms: number | null;
  provider_id: string | null;
}

export interface Database {
  users: UsersTable;
  otp_codes: OtpCodesTable;
  claim_decoys: ClaimDecoysTable;
  otp_long_codes: OtpLongCodesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  login_failures: LoginFailuresTable;
  messages: MessagesTable;
  suppressions: SuppressionsTable;
  message_events: MessageEventsTable;
  account_events: AccountEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

/** What an event says beyond its type: ids and facts (an address, how a sign-in went), never a code, a password or a token. */
export type AccountEventFacts = { [key: string]: string | number | boolean | null };

/** One change of an account (accounts/events.ts). */
export interface AccountEventsTable {
  /** Orders the events (and an account's webhooks); bigint, read as text. */
  seq: ColumnType<string, never, never>;
  /** Names the event outside: the webhook-id. */
  id: Generated<string>;
  user_id: string;
  type: AccountEventType;
  actor: Actor;
  at: Timestamp;
  /** The requester's /24 or /48, never the whole address; null for the service's own changes. */
  network: string | null;
  /** The requester's User-Agent, at most 200 characters. */
  user_agent: string | null;
  facts: ColumnType<AccountEventFacts, string | undefined, never>;
}

/** Where a webhook delivery is: waiting (queued, or sending under a lease), or done. */
export type WebhookStatus = 'queued' | 'sending' | 'delivered' | 'failed';

/** One event to one endpoint (delivery/webhooks.ts). */
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  event_seq: string;
  user_id: string;
  /** The endpoint's host and path (config/webhooks.ts), never its credentials. */
  endpoint: string;
  status: Generated<WebhookStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  lease_until: NullableTimestamp;
  /** Set by each claim: an outcome is recorded only by the claim that holds it. */
  lease_token: string | null;
  last_error: string | null;
  last_error_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** An email address that bounced hard or complained: later messages to it end `suppressed`. */
export interface SuppressionsTable {
  /** Lower-cased. */
  address: string;
  kind: 'bounce' | 'complaint';
  reason: string;
  message_id: string | null;
  created_at: Timestamp;
}

export type User = Selectable<UsersTable>;
export type Message = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
