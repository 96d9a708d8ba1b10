import { apiBaseUrl, apiErrorMessage } from './api-client.ts';
import { CliError } from './errors.ts';
import { devInboxMessages, type InboxRow } from './dev-inbox.ts';
import { CHANNEL_LABELS, purposeLabel } from '../shared/vocabulary.ts';
import { alignColumns } from './columns.ts';
import { formatTime } from './times.ts';

const POLL_MS = 2000;

const NOT_DEVELOPMENT =
  'the dev inbox exists only with APP_ENV=development; use `panic-api messages --to X` for the delivery log';

const COLUMNS: Array<[string, (m: InboxRow) => string]> = [
  ['TIME', (m) => formatTime(m.created_at)],
  ['RECIPIENT', (m) => m.recipient],
  ['CHANNEL', (m) => (CHANNEL_LABELS as Record<string, string>)[m.channel] ?? m.channel],
  ['PURPOSE', (m) => purposeLabel(m.purpose).toLowerCase()],
  ['CODE', (m) => m.otp ?? '-'],
  ['STATUS', (m) => m.status],
];

/** A plain-text table; widths from the rows given, or at least `minWidths` (follow mode keeps them). */
export function formatTable(
  rows: InboxRow[],
  withHeader = true,
  minWidths: number[] = [],
): { text: string; widths: number[] } {
  // The titles always count for the widths, printed or not, so follow mode's later rows line up.
  const titles = COLUMNS.map(([title]) => title);
  const { lines, widths } = alignColumns([titles, ...rows.map((m) => COLUMNS.map(([, get]) => get(m)))], { minWidths });
  if (!withHeader) lines.shift();
  return { text: lines.length ? `${lines.join('\n')}\n` : '', widths };
}

async function fetchInbox(to: string | undefined): Promise<InboxRow[]> {
  const res = await devInboxMessages(to);
  if (res.status === 404) throw new CliError(`The server at ${apiBaseUrl()} has no dev inbox: ${NOT_DEVELOPMENT}.`);
  if (res.status !== 200) throw new CliError(apiErrorMessage(res.status, res.body));
  if (!Array.isArray(res.body?.messages))
    throw new CliError(`The server at ${apiBaseUrl()} did not answer with a message list.`);
  return res.body.messages;
}

function emptyHint(to: string | undefined): string {
  return (
    `No messages${to ? ` to ${to}` : ''} yet. Request a code, e.g. register an account:\n` +
    `  curl -X POST ${apiBaseUrl()}/api/v1/auth/register -H 'content-type: application/json' \\\n` +
    `    -d '{"email":"you@example.com","phone":"+27825550123","first_name":"Ada","last_name":"Lovelace","password":"correct horse battery"}'\n`
  );
}

/** `panic-api inbox [--to X] [--json] [--follow]`: the latest codes of a running development server. */
export async function inboxCommand(values: {
  to?: string;
  json?: boolean;
  follow?: boolean;
  limit: number;
}): Promise<number> {
  const { limit } = values;
  const to = values.to?.trim() || undefined;
  const out = (text: string) => process.stdout.write(text);

  // Newest first from the server; the table reads top to bottom in time, the newest last.
  const messages = await fetchInbox(to);
  const shown = messages.slice(0, limit).reverse();
  let widths: number[] = [];
  if (values.json) {
    if (values.follow) for (const m of shown) out(`${JSON.stringify(m)}\n`);
    else out(`${JSON.stringify(messages, null, 2)}\n`);
  } else if (shown.length) {
    const table = formatTable(shown);
    widths = table.widths;
    out(table.text);
    if (messages.length > shown.length)
      out(`(the latest ${shown.length} of ${messages.length}; --limit N or --json for more)\n`);
  } else if (!values.follow) {
    out(emptyHint(to));
  }
  if (!values.follow) return 0;

  if (!values.json) {
    if (!shown.length) out(emptyHint(to));
    process.stderr.write(
      `Watching ${apiBaseUrl()}/dev/inbox for new codes${to ? ` to ${to}` : ''} (Ctrl-C to stop)…\n`,
    );
  }
  const seen = new Set(messages.map((m) => m.id));
  let headerPrinted = shown.length > 0;
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let down = false;
    let stopped = false;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const poll = async () => {
      if (stopped) return;
      try {
        const fresh = (await fetchInbox(to)).filter((m) => !seen.has(m.id)).reverse();
        if (stopped) return;
        if (down) process.stderr.write('The server answers again.\n');
        down = false;
        for (const m of fresh) seen.add(m.id);
        if (fresh.length) {
          if (values.json) for (const m of fresh) out(`${JSON.stringify(m)}\n`);
          else {
            const table = formatTable(fresh, !headerPrinted, widths);
            widths = table.widths;
            headerPrinted = true;
            out(table.text);
          }
        }
      } catch (err) {
        // A restart of the server is normal while developing: say so once, keep watching.
        if (!down) process.stderr.write(`${(err as Error).message} Still watching…\n`);
        down = true;
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    timer = setTimeout(() => void poll(), POLL_MS);
  });
}
