import { accountLines } from '../account-lines.ts';
import { done, type JsonOption } from './common.ts';
import { authedRequest } from './session.ts';

/** `me`: the logged-in account. */
export async function meCommand({ json }: JsonOption): Promise<number> {
  const { body: u } = await authedRequest(json, (client) => client.GET('/api/v1/auth/me'));
  return done(json, u, [
    ...accountLines(u),
    u.phone_verified ? undefined : 'Verify your phone with: panic-api verify-phone',
  ]);
}
