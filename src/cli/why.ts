import { api, apiErrorMessage, apiBaseUrl } from './api-client.ts';
import { CliError } from './errors.ts';
import { alignColumns } from './columns.ts';
import { messageLines } from './messages.ts';
import { printable } from './printable.ts';

/** `panic-api why EMAIL|PHONE [--json]`: support's answer to "I am not receiving my code", from a running server. */
export async function whyCommand(to: string, values: { json?: boolean }): Promise<number> {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new CliError("Set ADMIN_TOKEN to the server's admin token: the lookup is behind it.");
  const { data, error, response } = await api({ token }).GET('/api/v1/admin/why', { params: { query: { to } } });
  if (response.status === 404)
    throw new CliError(
      `The server at ${apiBaseUrl()} has no /api/v1/admin/why: start it with ADMIN_TOKEN set (and run a version that has it).`,
    );
  if (!data) throw new CliError(apiErrorMessage(response.status, error));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return 0;
  }
  const a = data.account;
  const verified = (v: boolean) => (v ? 'verified' : 'NOT verified');
  const lines = [
    `Why codes to ${data.destination} (${data.channel}) may not arrive`,
    '',
    ...alignColumns(
      [
        ['Cause', data.diagnosis.cause],
        ['Fix', data.diagnosis.fix],
        ['Person', data.hint],
        [
          'Account',
          a
            ? `${a.id}: email ${a.email} ${verified(a.email_verified)}, phone ${a.phone} ${verified(a.phone_verified)}`
            : 'none with this address',
        ],
        ...(data.suppression
          ? [
              [
                'Suppressed',
                `since ${data.suppression.created_at} after a ${data.suppression.kind}: ${data.suppression.reason}`,
              ],
            ]
          : []),
        ...data.blocking.map((b) => ['Blocking', `${b.limit} (${b.setting}): ${b.wait_seconds} s more`]),
      ],
      { indent: '  ' },
    ).lines,
    '',
    data.messages.length ? 'Recent messages, newest first:' : 'No recent messages.',
    ...data.messages.flatMap((m) => messageLines(m, '  ')),
  ];
  process.stdout.write(`${printable(lines.join('\n'))}\n`);
  return 0;
}
