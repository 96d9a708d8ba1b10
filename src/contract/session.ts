import { Type, type Static } from 'typebox';
import { SESSION_METHODS } from '../shared/vocabulary.ts';
import { Nullable } from './nullable.ts';

/** One of a person's live sessions, as its owner is shown it: a device, never the whole address. */
export const SessionInfo = Type.Object({
  id: Type.String({ format: 'uuid' }),
  current: Type.Boolean({ description: 'The session whose access token asked.' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time', description: 'When it began, or last refreshed its tokens.' }),
  method: Type.Enum(SESSION_METHODS, { description: 'How it began: a password, or a sign-in code.' }),
  network: Nullable(
    Type.String({
      description: 'The network it began from: an IPv4 /24 or an IPv6 /48, never the whole address.',
      examples: ['198.51.100.0/24'],
    }),
  ),
  user_agent: Nullable(Type.String({ description: "The client's User-Agent, at most 200 characters." })),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const SessionList = Type.Object({
  sessions: Type.Array(SessionInfo, { description: 'Live sessions, the most recently used first.' }),
});
export type SessionList = Static<typeof SessionList>;
