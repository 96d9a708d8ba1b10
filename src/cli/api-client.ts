/**
 * Talks to a running panic-api over HTTP: the way every command reads a running server's data.
 * Requests go through openapi-fetch, typed by api-types.ts, which is generated from the service's own
 * /openapi.json (`npm run openapi:types`): a path, body or answer the contract does not have is a
 * compile error here, not a surprise at run time.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './client/api-types.ts';
import { CliError } from './errors.ts';

export const apiBaseUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  (env.API_BASE_URL ?? 'http://localhost:8000').replace(/\/+$/, '');

const TIMEOUT_MS = 15_000;

/** fetch with a deadline; connection failures and timeouts become one clear sentence (CliError). */
export function guardedFetch(base: string, timeoutMs = TIMEOUT_MS) {
  return async (input: Request | string, init?: RequestInit): Promise<Response> => {
    try {
      return await fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError')
        throw new CliError(`The server at ${base} did not answer within ${timeoutMs / 1000} s.`);
      const code = e.cause?.code;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET') {
        throw new CliError(
          `The server at ${base} is not running (${code}). Start it with \`npm start\`, or set API_BASE_URL.`,
        );
      }
      const cause = e.cause?.message;
      throw new CliError(`Could not reach the server at ${base}: ${e.message}${cause ? ` (${cause})` : ''}.`);
    }
  };
}

export type Api = Client<paths>;

/** How the sessions this command starts are shown in `panic-api sessions` (fetch alone would say "node"). */
const USER_AGENT = `panic-api-cli (Node.js ${process.versions.node}; ${process.platform})`;

/** The typed client of the API at `baseUrl` (API_BASE_URL by default), with a session's access token if given. */
export function api(opts: { baseUrl?: string; token?: string; timeoutMs?: number } = {}): Api {
  const baseUrl = opts.baseUrl ?? apiBaseUrl();
  const headers = {
    accept: 'application/json',
    'user-agent': USER_AGENT,
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
  return createClient<paths>({ baseUrl, fetch: guardedFetch(baseUrl, opts.timeoutMs), headers });
}

/**
 * The API's own error sentence, for a non-2xx answer, with how long to wait when it says (a 429's or
 * a 503's `Retry-After`, which the sentence itself leaves to the header).
 */
export function apiErrorMessage(status: number, body: unknown, retryAfter?: string | null): string {
  const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const seconds = Number(retryAfter);
  const said = /try again in/i.test(err?.message ?? ''); // the login throttle's sentence names its wait
  const wait =
    !said && retryAfter && Number.isInteger(seconds) && seconds > 0 ? ` Try again in ${waitText(seconds)}.` : '';
  return err?.message
    ? `${err.message}${wait} (${err.code}, HTTP ${status})`
    : `The server answered HTTP ${status}.${wait}`;
}

const waitText = (seconds: number): string => (seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} minutes`);
