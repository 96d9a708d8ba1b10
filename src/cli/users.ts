/**
 * Support's commands for a person who writes in about their account (needs ADMIN_TOKEN): `user`
 * looks them up by email or phone, `delete-user` erases them when they ask to be forgotten.
 */
import { api, apiBaseUrl, type Api } from './api-client.ts';
import { CliError } from './errors.ts';
import { accountLines } from './account-lines.ts';
import { apiFailure, done, refuseUnattended, typedBack, type Answer, type JsonOption } from './client/common.ts';
import type { PublicUser } from '../contract/public-user.ts';
import { isUuid } from '../shared/ids.ts';

function adminApi(): Api {
  const token = process.env.ADMIN_TOKEN;
  if (!token)
    throw new CliError("Set ADMIN_TOKEN to the server's admin token: support's account routes are behind it.");
  return api({ token });
}

/** The body of an answer that must succeed; a server without the admin routes is told apart from a person not found. */
async function answered<T extends Answer>(
  call: Promise<T>,
  json: boolean | undefined,
): Promise<NonNullable<T['data']>> {
  const { data, error, response } = await call;
  if (data) return data as NonNullable<T['data']>;
  const noRoute = (error as { error?: { message?: string } } | undefined)?.error?.message?.startsWith('There is no ');
  if (response.status === 404 && noRoute)
    throw new CliError(
      `The server at ${apiBaseUrl()} has no /api/v1/admin/users: start it with ADMIN_TOKEN set (and run a version that has it).`,
    );
  throw apiFailure(response.status, error, json === true);
}

/** The account of an email address or a phone number (any spelling the API takes). */
async function lookUp(client: Api, who: string, json: boolean | undefined): Promise<PublicUser> {
  const query = who.includes('@') ? { email: who } : { phone: who };
  return (await answered(client.GET('/api/v1/admin/users', { params: { query } }), json)).user;
}

/** `user EMAIL|PHONE [--json]`: the account, what is verified, its language and when it was made. */
export async function userCommand(who: string, { json }: JsonOption): Promise<number> {
  const client = adminApi();
  const user = await lookUp(client, who, json);
  return done(json, { user }, [
    ...accountLines(user),
    `Its event log: panic-api events ${user.id}; to delete it: panic-api delete-user ${user.id}`,
  ]);
}

/**
 * `delete-user ID|EMAIL|PHONE [--yes] [--json]`: the account is deleted and its addresses erased from
 * what is kept, the admin as actor. At a terminal, who it is is shown and its email (or, given an id,
 * the id) typed back first, unless --yes.
 */
export async function deleteUserCommand(who: string, opts: JsonOption & { yes?: boolean }): Promise<number> {
  const client = adminApi();
  refuseUnattended(opts.yes, 'Deleting an account');
  const user = isUuid(who.trim()) ? undefined : await lookUp(client, who, opts.json);
  const id = user?.id ?? who.trim();
  if (!opts.yes) {
    const shown = user ? accountLines(user) : [`the account ${id}`];
    process.stderr.write(`This deletes for good:\n${shown.join('\n')}\n`);
    const expected = user?.email ?? id;
    await typedBack(expected, `Type ${user ? 'its email' : 'its id'}, ${expected}, to delete it:`);
  }
  const body = await answered(client.DELETE('/api/v1/admin/users/{id}', { params: { path: { id } } }), opts.json);
  return done(opts.json, body, [
    `The account ${id}${user ? ` (${user.email})` : ''} is deleted: its email address and phone number are erased from what is kept, and they can register again.`,
  ]);
}
