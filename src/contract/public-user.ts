import { Type, type Static } from 'typebox';
import { LOCALE_CODES } from '../shared/locales.ts';

/** What the API may show of a user: never a hash or a token. */
export const PublicUser = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  phone: Type.String({ description: 'E.164' }),
  first_name: Type.String(),
  last_name: Type.String(),
  email_verified: Type.Boolean(),
  phone_verified: Type.Boolean(),
  locale: Type.Enum(LOCALE_CODES, { description: "The language of the account's messages." }),
  created_at: Type.String({ format: 'date-time' }),
});
export type PublicUser = Static<typeof PublicUser>;
