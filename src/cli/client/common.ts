/**
 * What every client command shares: one API call whose error answer becomes the API's own sentence,
 * output in sentences or JSON, and the password asked without echo.
 */
import { read } from 'read';
import { apiErrorMessage } from '../api-client.ts';
import { CliError, UsageError } from '../errors.ts';
import { devInboxMessages } from '../dev-inbox.ts';
import { formatTime } from '../times.ts';

/** `--json`: commander leaves it undefined when it is not given. */
export interface JsonOption {
  json?: boolean;
}

/**
 * An argument as a next command shows it, so that it pastes into a shell: `'082 555 0123'`, not three
 * arguments. Plain addresses and numbers stay as typed.
 */
export const shellArg = (value: string): string =>
  /^[\w@.+%:,/=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;

/** The answer: the API's JSON body with --json, else the sentences. Returns the exit code 0. */
export function done(json: boolean | undefined, body: unknown, human: Array<string | undefined>): 0 {
  process.stdout.write(
    json ? `${JSON.stringify(body, null, 2)}\n` : `${human.filter((l) => l !== undefined).join('\n')}\n`,
  );
  return 0;
}

/**
 * A non-2xx answer as an error: the API's own sentence on stderr (via main), and with --json its
 * error body on stdout too, so a script can read the machine code.
 */
export function apiFailure(status: number, body: unknown, json: boolean, retryAfter?: string | null): CliError {
  if (json && body !== null && typeof body === 'object') process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  return new CliError(apiErrorMessage(status, body, retryAfter));
}

/** What openapi-fetch answers: the typed body of a 2xx answer, or the error body, and the response. */
export interface Answer {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The body of an answer that must succeed. */
export async function succeeded<T extends Answer>(
  json: boolean | undefined,
  call: T | Promise<T>,
): Promise<NonNullable<T['data']>> {
  const { data, error, response } = await call;
  if (!response.ok) throw apiFailure(response.status, error, json === true, response.headers.get('retry-after'));
  return data as NonNullable<T['data']>;
}

/** "at 14:32 (in 10 minutes)" in local time; the date too when it is not today. */
export function expiryText(expiresAt: string, minutes?: number, now = new Date()): string {
  const at = new Date(expiresAt);
  if (Number.isNaN(at.getTime())) return minutes === undefined ? 'soon' : `in ${minutes} minutes`;
  const when = formatTime(at, { seconds: false, now });
  const mins = minutes ?? Math.max(0, Math.round((at.getTime() - now.getTime()) / 60_000));
  return `at ${when} (in ${mins} minute${mins === 1 ? '' : 's'})`;
}

/**
 * "or see the code with: panic-api inbox --to X" when the server has a dev inbox (development);
 * nothing otherwise, or when asking fails: it is only a hint.
 */
export async function devInboxHint(to: string, baseUrl?: string): Promise<string | undefined> {
  try {
    const res = await devInboxMessages(to, { baseUrl, timeoutMs: 3000 });
    return res.status === 200 ? `or see the code with: panic-api inbox --to ${shellArg(to)}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The password from --password, else asked on the terminal without echo; `what` names it in the
 * prompt ("Password", "New password"). Not a terminal and no option: a UsageError.
 */
export async function passwordFrom(
  option: string | undefined,
  what: string,
  optionName: string,
  confirm = false,
): Promise<string> {
  if (option !== undefined) return option;
  if (!process.stdin.isTTY) {
    throw new UsageError(`No password: give ${optionName}, or run this in a terminal to be asked for it.`);
  }
  const first = await promptLine(`${what}:`, true);
  if (first === '') throw new CliError('No password was entered.');
  if (confirm && (await promptLine(`${what} again:`, true)) !== first)
    throw new CliError('The two passwords differ; nothing was changed.');
  return first;
}

/**
 * How the signed-in person shows it is them before a change a stolen session must not make: --otp (a
 * sign-in code, for an account without a password), else the password, asked at a terminal.
 */
export async function proofFrom(opts: {
  password?: string;
  otp?: string;
}): Promise<{ password: string } | { otp: string }> {
  if (opts.password !== undefined && opts.otp !== undefined)
    throw new UsageError('Give --password or --otp (a sign-in code), not both.');
  if (opts.otp !== undefined) return { otp: opts.otp };
  return { password: await passwordFrom(opts.password, 'Password', '--password P (or --otp CODE)') };
}

/**
 * Something that cannot be undone goes ahead only when it is meant: with --yes, or at a terminal where
 * the person is asked (typedBack). Without either: a UsageError naming --yes, before anything is done.
 */
export function refuseUnattended(yes: boolean | undefined, what: string): void {
  if (!yes && !process.stdin.isTTY)
    throw new UsageError(`${what} cannot be undone: give --yes to confirm it, or run this in a terminal to be asked.`);
}

/** At a terminal: the person types `expected` back (any case), or nothing is done. */
export async function typedBack(expected: string, prompt: string): Promise<void> {
  const typed = await promptLine(prompt);
  if (typed.trim().toLowerCase() !== expected.toLowerCase())
    throw new CliError(`That is not ${expected}: nothing was deleted.`);
}

/** One line from the terminal (npm's `read`), echoed, or not with `silent`; Ctrl-C cancels. */
export async function promptLine(prompt: string, silent = false): Promise<string> {
  try {
    return await read({ prompt, output: process.stderr, ...(silent ? { silent, replace: '' } : {}) });
  } catch (err) {
    if ((err as Error).message === 'canceled') throw new CliError('Cancelled.', { cause: err });
    throw err;
  }
}
