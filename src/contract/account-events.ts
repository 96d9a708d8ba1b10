import { Type, type Static } from 'typebox';
import { ACCOUNT_EVENT_TYPES, ACTOR_NAMES } from '../shared/vocabulary.ts';
import { Nullable } from './nullable.ts';

/** One change of an account as the event log shows it: never a code, a password or a token. */
export const AccountEvent = Type.Object({
  id: Type.String({ description: 'The event; also the webhook-id of its webhooks' }),
  user_id: Type.String(),
  type: Type.Enum(ACCOUNT_EVENT_TYPES),
  at: Type.String({ format: 'date-time' }),
  actor: Type.Enum(ACTOR_NAMES, {
    description: 'user (the person, or whoever asked in their name), admin, or system (the service itself)',
  }),
  network: Nullable(Type.String({ description: "The requester's network (IPv4 /24, IPv6 /48), never the address" })),
  user_agent: Nullable(Type.String()),
  facts: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
    description:
      'What the event says beyond its type: an address or number (previous_phone), how a sign-in went (method, new_network, reason, during), a session id or how many sessions ended',
  }),
});
export type AccountEvent = Static<typeof AccountEvent>;

/** A page of events, newest first; `next_cursor` asks for the next (older) page, null on the last. */
export const AccountEventPage = Type.Object({
  events: Type.Array(AccountEvent),
  next_cursor: Nullable(Type.String()),
});
export type AccountEventPage = Static<typeof AccountEventPage>;
