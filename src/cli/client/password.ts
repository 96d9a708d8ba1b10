import { done, passwordFrom, type JsonOption } from './common.ts';
import { authedRequest } from './session.ts';

/** `password [--current P] [--password NEW]`: changes the password; every other session ends, this one stays. */
export async function passwordCommand(opts: JsonOption & { current?: string; password?: string }): Promise<number> {
  const current_password = await passwordFrom(opts.current, 'Current password', '--current P');
  const new_password = await passwordFrom(opts.password, 'New password', '--password NEW', true);
  const { body } = await authedRequest(opts.json, (client) =>
    client.POST('/api/v1/users/me/password', { body: { current_password, new_password } }),
  );
  return done(opts.json, body, [body.message]);
}
