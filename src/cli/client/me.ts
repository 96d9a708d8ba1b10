import { done, type JsonOption } from './common.ts';
import { authedRequest } from './session.ts';

const mark = (verified: boolean) => (verified ? 'verified' : 'NOT verified');

/** `me`: the logged-in account. */
export async function meCommand({ json }: JsonOption): Promise<number> {
  const { body: u } = await authedRequest(json, (client) => client.GET('/api/v1/auth/me'));
  return done(json, u, [
    `${u.first_name} ${u.last_name}`,
    `  email    ${u.email} (${mark(u.email_verified)})`,
    `  phone    ${u.phone} (${mark(u.phone_verified)})`,
    `  id       ${u.id}`,
    `  created  ${new Date(u.created_at).toLocaleString()}`,
    u.phone_verified ? undefined : 'Verify your phone with: panic-api verify-phone',
  ]);
}
