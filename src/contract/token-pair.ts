import { Type, type Static } from 'typebox';

/** What /login and /refresh answer. */
export const TokenPair = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token lives.' }),
});
export type TokenPair = Static<typeof TokenPair>;
