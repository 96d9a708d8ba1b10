/** Talks to a running panic-api over HTTP: the way every command reads a running server's data. */
export class CliError extends Error {}
/** Wrong or missing arguments: main prints the command's usage line and exits 2. */
export class UsageError extends CliError {}

export const apiBaseUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  (env.API_BASE_URL ?? 'http://localhost:8000').replace(/\/+$/, '');

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

/** One request; connection failures and timeouts become one clear sentence (CliError). */
export async function callApi<T = any>(
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; baseUrl?: string; timeoutMs?: number } = {},
): Promise<ApiResult<T>> {
  const base = opts.baseUrl ?? apiBaseUrl();
  const headers: Record<string, string> = { accept: 'application/json' };
  // The dev inbox's token, for a server that asks for one (a container, a shared machine).
  if (path.startsWith('/dev/') && process.env.DEV_INBOX_TOKEN) headers['x-dev-inbox-token'] = process.env.DEV_INBOX_TOKEN;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') throw new CliError(`The server at ${base} did not answer within ${(opts.timeoutMs ?? 15_000) / 1000} s.`);
    const code = e.cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET') {
      throw new CliError(`The server at ${base} is not running (${code}). Start it with \`npm start\`, or set API_BASE_URL.`);
    }
    const cause = e.cause?.message;
    throw new CliError(`Could not reach the server at ${base}: ${e.message}${cause ? ` (${cause})` : ''}.`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: body as T };
}

/** The API's own error sentence, for a non-2xx answer. */
export function apiErrorMessage(result: ApiResult): string {
  const err = (result.body as { error?: { code?: string; message?: string } })?.error;
  return err?.message ? `${err.message} (${err.code}, HTTP ${result.status})` : `The server answered HTTP ${result.status}.`;
}
