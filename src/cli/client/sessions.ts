import { alignColumns } from '../columns.ts';
import { UsageError } from '../errors.ts';
import { formatTime } from '../times.ts';
import { done, type JsonOption } from './common.ts';
import { authedRequest, deleteSession, sessionPath } from './session.ts';

const COLUMNS = ['', 'ID', 'LAST USED', 'STARTED', 'BY', 'NETWORK', 'DEVICE'];

/** `sessions`: the account's live sessions as a table, this one marked, the most recently used first. */
export async function sessionsCommand({ json }: JsonOption): Promise<number> {
  const { body } = await authedRequest(json, (client) => client.GET('/api/v1/users/me/sessions'));
  const rows = body.sessions.map((s) => [
    s.current ? '*' : '',
    s.id,
    formatTime(s.last_used_at),
    formatTime(s.created_at),
    s.method,
    s.network ?? '-',
    s.user_agent ?? '-',
  ]);
  return done(json, body, [
    ...alignColumns([COLUMNS, ...rows]).lines,
    '',
    '* this session. End one with: panic-api sessions revoke ID; every other one with: panic-api sessions revoke --others',
  ]);
}

/** `sessions revoke ID | --others`: ends one session (this one too: then the session file goes), or every other one. */
export async function revokeSessionCommand(
  id: string | undefined,
  opts: JsonOption & { others?: boolean },
): Promise<number> {
  if ((id === undefined) === (opts.others !== true)) throw new UsageError('Give a session ID, or --others (not both).');
  if (id === undefined) {
    const { body } = await authedRequest(opts.json, (client) => client.POST('/api/v1/users/me/sessions/revoke-others'));
    return done(opts.json, body, [body.message]);
  }
  const { body } = await authedRequest(opts.json, (client) =>
    client.DELETE('/api/v1/users/me/sessions/{id}', { params: { path: { id } } }),
  );
  if (!body.current) return done(opts.json, body, [`Session ${id} ended: its tokens are refused from now on.`]);
  await deleteSession();
  return done(opts.json, body, [`Session ${id} was this one: you are logged out, and ${sessionPath()} is deleted.`]);
}
