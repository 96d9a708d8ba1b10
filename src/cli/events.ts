import { api, apiErrorMessage, apiBaseUrl } from './api-client.ts';
import { CliError } from './errors.ts';
import type { paths } from './client/api-types.ts';
import { alignColumns } from './columns.ts';
import { printable } from './printable.ts';

type Filters = Omit<NonNullable<paths['/api/v1/admin/events']['get']['parameters']['query']>, 'user'>;

/**
 * `panic-api events EMAIL|PHONE|ID [--type T] [--since TIME] [--limit N] [--cursor C] [--json]`: an
 * account's event log from a running server, newest first ("who signed in to my account").
 */
export async function eventsCommand(user: string, values: Filters & { json?: boolean }): Promise<number> {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new CliError("Set ADMIN_TOKEN to the server's admin token: the event log is behind it.");
  const { type, since, limit, cursor } = values;
  const { data, error, response } = await api({ token }).GET('/api/v1/admin/events', {
    params: { query: { user, type, since, limit, cursor } },
  });
  // the route missing (no ADMIN_TOKEN, an older server), not an account missing
  const noRoute = (error as { error?: { message?: string } } | undefined)?.error?.message?.startsWith('There is no ');
  if (response.status === 404 && noRoute)
    throw new CliError(`The server at ${apiBaseUrl()} has no event log: start it with ADMIN_TOKEN set.`);
  if (!data) throw new CliError(apiErrorMessage(response.status, error));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return 0;
  }
  if (!data.events.length) {
    process.stdout.write(`No events for ${user}${type ? ` of type ${type}` : ''}${since ? ` since ${since}` : ''}.\n`);
    return 0;
  }
  const facts = (f: Record<string, unknown>) =>
    Object.entries(f)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const { lines } = alignColumns([
    ['TIME', 'EVENT', 'BY', 'NETWORK', 'FACTS', 'USER AGENT'],
    ...data.events.map((e) => [e.at, e.type, e.actor, e.network ?? '-', facts(e.facts) || '-', e.user_agent ?? '-']),
  ]);
  const more = data.next_cursor
    ? [`More (older): panic-api events ${user} --cursor ${data.next_cursor}${type ? ` --type ${type}` : ''}`]
    : [];
  process.stdout.write(printable([...lines, ...more].map((l) => `${l}\n`).join('')));
  return 0;
}
