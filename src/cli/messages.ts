import { api, apiErrorMessage, apiBaseUrl } from './api-client.ts';
import { CliError } from './errors.ts';
import type { paths } from './client/api-types.ts';
import { messageEventLines } from './message-events.ts';
import { MESSAGE_STATUSES } from '../shared/vocabulary.ts';
import { printable } from './printable.ts';

type Filters = NonNullable<paths['/api/v1/admin/messages']['get']['parameters']['query']>;

/** One row of the delivery log, as the contract declares it. */
export type LogRow = NonNullable<
  paths['/api/v1/admin/messages']['get']['responses'][200]['content']['application/json']['messages']
>[number];

const WHY: Record<string, string> = {
  sent: 'accepted by the provider',
  delivered: 'the provider reported it delivered',
  undelivered: 'the carrier did not deliver it',
  bounced: "the recipient's mail server refused it",
  suppressed: 'not sent: the address is suppressed',
  captured: 'not sent: development (shown in the dev inbox and the log), or a test destination (see the reason)',
  queued: 'waiting for its next attempt',
  sending: 'being sent now',
  failed: 'gave up',
};

/** `panic-api messages --to X [--status S] [--json]`: the delivery log of a running server. */
export async function messagesCommand(values: Filters & { json?: boolean }): Promise<number> {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new CliError("Set ADMIN_TOKEN to the server's admin token: the delivery log is behind it.");
  const { to, status, limit } = values;
  const { data, error, response } = await api({ token }).GET('/api/v1/admin/messages', {
    params: { query: { to, status, limit } },
  });
  if (response.status === 404) {
    throw new CliError(`The server at ${apiBaseUrl()} has no delivery log endpoint: start it with ADMIN_TOKEN set.`);
  }
  if (!data) throw new CliError(apiErrorMessage(response.status, error));
  const rows = data.messages;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (!rows.length) {
    process.stdout.write(
      `No messages${values.to ? ` to ${values.to}` : ''}. Was a code requested for exactly this address?\n`,
    );
    return 0;
  }
  process.stdout.write(
    printable(
      rows
        .flatMap((r) => messageLines(r))
        .map((l) => `${l}\n`)
        .join(''),
    ),
  );
  return 0;
}

/** A delivery-log row as the lines `messages` and `why` print, indented by `indent`. */
export function messageLines(r: LogRow, indent = ''): string[] {
  return [
    `${indent}${r.created_at}  ${r.channel.padEnd(5)} ${r.recipient}  ${r.purpose}  ${r.status.toUpperCase()} after ${r.attempts} attempt(s): ${WHY[r.status] ?? MESSAGE_STATUSES[r.status].help}`,
    r.last_error && `${indent}    reason: ${r.last_error}`,
    r.next_attempt_at && `${indent}    next attempt: ${r.next_attempt_at}`,
    r.provider_id && `${indent}    provider id: ${r.provider_id}`,
    ...messageEventLines(r.events).map((l) => `${indent}    ${l}`),
  ].filter((l): l is string => Boolean(l));
}
