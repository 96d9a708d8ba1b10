import { Type, type Static } from 'typebox';

/** What the API may show of a user: never a hash or a token. */
export const PublicUser = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  phone: Type.String({ description: 'E.164' }),
  first_name: Type.String(),
  last_name: Type.String(),
  email_verified: Type.Boolean(),
  phone_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});
export type PublicUser = Static<typeof PublicUser>;
