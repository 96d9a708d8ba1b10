import { Type, type Static } from 'typebox';
import { ALL_STATUSES, CHANNELS, EVENT_KINDS } from '../shared/vocabulary.ts';
import { Nullable } from './nullable.ts';

const At = Type.String({ format: 'date-time' });

/** A failed send in plain words (delivery/reasons.ts). */
export const Diagnosis = Type.Object({
  cause: Type.String({ description: 'What happened' }),
  fix: Type.String({ description: 'What the operator can do' }),
  hint: Type.String({ description: 'What the person waiting for the code can do' }),
});
export type Diagnosis = Static<typeof Diagnosis>;

/** One step of a message's history; never a code, a password or a body. */
export const MessageEvent = Type.Object({
  at: At,
  kind: Type.Enum(EVENT_KINDS),
  status: Type.Enum(ALL_STATUSES, { description: "The message's status once this step was taken" }),
  provider: Nullable(Type.String({ description: 'smtp, twilio or http' })),
  error: Nullable(Type.String()),
  provider_status: Nullable(Type.Integer({ description: 'The HTTP status or SMTP reply code the provider answered' })),
  provider_code: Nullable(
    Type.String({ description: "The provider's error code (Twilio's 21211), or the SMTP client's (EAUTH)" }),
  ),
  provider_error: Nullable(
    Type.Record(Type.String(), Type.Unknown(), {
      description:
        "A failed attempt's provider error as it came, at most 1000 characters of JSON: an SMTP server's responseCode and response with the client's code and command; an API's HTTP status and error body (Twilio's code, message, more_info)",
    }),
  ),
  duration_ms: Nullable(Type.Integer()),
  provider_id: Nullable(Type.String()),
  /** For a failed attempt or a failure's receipt, when delivery/reasons.ts knows its code. */
  diagnosis: Nullable(Diagnosis),
});
export type MessageEvent = Static<typeof MessageEvent>;

/** A message of the delivery log: what happened to it, never its body or code. */
export const LoggedMessage = Type.Object({
  id: Type.String({ format: 'uuid' }),
  channel: Type.Enum(CHANNELS),
  recipient: Type.String(),
  purpose: Type.String(),
  status: Type.Enum(ALL_STATUSES),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  provider_id: Nullable(Type.String()),
  code_id: Nullable(
    Type.String({
      format: 'uuid',
      description: "The code it carries: the road's messages of one code across channels share it",
    }),
  ),
  created_at: At,
  sent_at: Nullable(At),
  next_attempt_at: Nullable(At),
  events: Type.Array(MessageEvent, { description: 'Oldest first' }),
});
export type LoggedMessage = Static<typeof LoggedMessage>;
