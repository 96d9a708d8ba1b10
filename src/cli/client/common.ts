/**
 * What every client command shares: its arguments (parseArgs, `--json`), one API call that turns an
 * error answer into the API's own sentence, output in sentences or JSON, and the hidden password prompt.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { apiErrorMessage, callApi, CliError, UsageError, type ApiResult } from '../api-client.ts';

export interface Parsed {
  /** The positionals, in the order named (all present). */
  args: string[];
  /** The string options that were given. */
  opts: Record<string, string | undefined>;
  json: boolean;
}

/**
 * `positionals` names the required arguments (EMAIL, OTP…), `strings` the `--name VALUE` options.
 * Anything missing, extra or unknown is a UsageError (exit 2 with the usage line).
 */
export function parseCommand(argv: string[], spec: { positionals?: string[]; strings?: string[] } = {}): Parsed {
  const names = spec.positionals ?? [];
  const parsed = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      ...Object.fromEntries((spec.strings ?? []).map((name) => [name, { type: 'string' as const }])),
    },
  });
  const positionals = parsed.positionals;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (positionals.length < names.length) {
    const missing = names.slice(positionals.length);
    throw new UsageError(`Missing ${missing.join(' and ')}.`);
  }
  if (positionals.length > names.length) throw new UsageError(`Unexpected argument "${positionals[names.length]}".`);
  const opts: Record<string, string | undefined> = {};
  for (const name of spec.strings ?? []) opts[name] = values[name] as string | undefined;
  return { args: positionals, opts, json: values.json === true };
}

/** The answer: the API's JSON body with --json, else the sentences. Returns the exit code 0. */
export function done(json: boolean, body: unknown, human: Array<string | undefined>): 0 {
  process.stdout.write(json ? `${JSON.stringify(body, null, 2)}\n` : `${human.filter((l) => l !== undefined).join('\n')}\n`);
  return 0;
}

export const isSuccess = (res: ApiResult) => res.status >= 200 && res.status < 300;

/**
 * A non-2xx answer as an error: the API's own sentence on stderr (via main), and with --json its
 * error body on stdout too, so a script can read the machine code.
 */
export function apiFailure(res: ApiResult, json: boolean): CliError {
  if (json && res.body !== null && typeof res.body === 'object') process.stdout.write(`${JSON.stringify(res.body, null, 2)}\n`);
  return new CliError(apiErrorMessage(res));
}

/** One request that must succeed; its body. */
export async function request<T = any>(json: boolean, method: string, path: string, body?: unknown): Promise<T> {
  const res = await callApi<T>(method, path, { body });
  if (!isSuccess(res)) throw apiFailure(res, json);
  return res.body;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** "at 14:32 (in 10 minutes)" in local time; the date too when it is not today. */
export function expiryText(expiresAt: string, minutes?: number, now = new Date()): string {
  const at = new Date(expiresAt);
  if (Number.isNaN(at.getTime())) return minutes === undefined ? 'soon' : `in ${minutes} minutes`;
  const time = `${pad2(at.getHours())}:${pad2(at.getMinutes())}`;
  const when = at.toDateString() === now.toDateString() ? time : `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${time}`;
  const mins = minutes ?? Math.max(0, Math.round((at.getTime() - now.getTime()) / 60_000));
  return `at ${when} (in ${mins} minute${mins === 1 ? '' : 's'})`;
}

/**
 * "or see the code with: panic-api inbox --to X" when the server has a dev inbox (development);
 * nothing otherwise, or when asking fails: it is only a hint.
 */
export async function devInboxHint(to: string, baseUrl?: string): Promise<string | undefined> {
  try {
    const res = await callApi('GET', `/dev/inbox/messages?${new URLSearchParams({ to })}`, { baseUrl, timeoutMs: 3000 });
    return res.status === 200 ? `or see the code with: panic-api inbox --to ${to}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The password from --password, else asked on the terminal without echo; `what` names it in the
 * prompt ("Password", "New password"). Not a terminal and no option: a UsageError.
 */
export async function passwordFrom(option: string | undefined, what: string, optionName: string, confirm = false): Promise<string> {
  if (option !== undefined) return option;
  if (!process.stdin.isTTY) {
    throw new UsageError(`No password: give ${optionName}, or run this in a terminal to be asked for it.`);
  }
  const first = await promptHidden(`${what}: `);
  if (first === '') throw new CliError('No password was entered.');
  if (confirm && (await promptHidden(`${what} again: `)) !== first) throw new CliError('The two passwords differ; nothing was changed.');
  return first;
}

/** One line from the terminal, not echoed: readline writes what it would echo into a muted stream. */
export function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve, reject) => {
    rl.on('SIGINT', () => {
      rl.close();
      process.stderr.write('\n');
      reject(new CliError('Cancelled.'));
    });
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
