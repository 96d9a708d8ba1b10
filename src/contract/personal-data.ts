import { Type, type Static } from 'typebox';
import { PURPOSES, SESSION_METHODS } from '../shared/vocabulary.ts';
import { Nullable } from './nullable.ts';
import { PublicUser } from './public-user.ts';
import { AccountEvent } from './account-events.ts';
import { LoggedMessage } from './delivery-log.ts';

const At = Type.String({ format: 'date-time' });

/**
 * Everything the service holds about a person, as one document (their right of access): never a
 * code, a password, a token or a message's body, which only prove things and are not about them.
 */
export const PersonalData = Type.Object({
  exported_at: At,
  account: Type.Object({
    ...PublicUser.properties,
    email_verified_at: Nullable(At),
    phone_verified_at: Nullable(At),
    updated_at: At,
    has_password: Type.Boolean({ description: 'Whether a password is set (its hash is never shown)' }),
  }),
  sessions: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      created_at: At,
      last_used_at: At,
      expires_at: At,
      revoked_at: Nullable(At),
      method: Type.Enum(SESSION_METHODS),
      network: Nullable(Type.String({ description: 'An IPv4 /24 or an IPv6 /48, never the whole address' })),
      user_agent: Nullable(Type.String()),
    }),
    { description: 'Every session kept, ended ones too (until retention), the newest first' },
  ),
  codes: Type.Array(
    Type.Object({
      purpose: Type.Enum(Object.keys(PURPOSES) as (keyof typeof PURPOSES)[]),
      destination: Type.String(),
      created_at: At,
      expires_at: At,
      used_at: Nullable(At),
      attempts: Type.Integer({ description: 'Wrong guesses at this code' }),
    }),
    { description: 'The codes kept, one per purpose (never the code itself)' },
  ),
  events: Type.Array(AccountEvent, { description: 'The account event log, newest first' }),
  messages: Type.Array(LoggedMessage, { description: 'The messages sent to the person, newest first, without bodies' }),
  suppressions: Type.Array(
    Type.Object({ address: Type.String(), kind: Type.String(), reason: Type.String(), created_at: At }),
    { description: 'Their addresses on the suppression list (a hard bounce or a complaint)' },
  ),
  login_throttle: Nullable(
    Type.Object({ failures: Type.Integer(), blocked_until: Nullable(At) }, { description: 'Failed sign-ins counted' }),
  ),
});
export type PersonalData = Static<typeof PersonalData>;
