/**
 * The saved session of `panic-api login`: the token pair, the server that issued it and the email,
 * in a JSON file only its owner can read. Commands that need it refresh an expired access token once.
 */
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { api, apiBaseUrl, type Api } from '../api-client.ts';
import { CliError } from '../errors.ts';
import { apiFailure, shellArg, succeeded, type Answer } from './common.ts';
import type { paths } from './api-types.ts';

/** The token pair, as login and refresh answer it. */
type TokenPair = paths['/api/v1/auth/refresh']['post']['responses'][200]['content']['application/json'];

export interface Session {
  api_base_url: string;
  email: string;
  token_type: 'bearer';
  access_token: string;
  refresh_token: string;
  /** When the access token stops working (it is refreshed automatically). */
  access_token_expires_at: string;
  saved_at: string;
}

export const NOT_LOGGED_IN = 'Not logged in: run `panic-api login EMAIL` first.';

/** A session the server no longer accepts (expired, logged out, password reset). */
export class SessionEndedError extends CliError {}

/** PANIC_API_SESSION_FILE, else $XDG_CONFIG_HOME/panic-api/session.json, else ~/.config/panic-api/session.json. */
export function sessionPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PANIC_API_SESSION_FILE?.trim()) return resolve(env.PANIC_API_SESSION_FILE.trim());
  const xdg = env.XDG_CONFIG_HOME?.trim();
  // The XDG spec ignores a relative XDG_CONFIG_HOME.
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config'), 'panic-api', 'session.json');
}

export function sessionFrom(pair: TokenPair, email: string, baseUrl: string, now = new Date()): Session {
  return {
    api_base_url: baseUrl,
    email,
    token_type: 'bearer',
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    access_token_expires_at: new Date(now.getTime() + pair.expires_in * 1000).toISOString(),
    saved_at: now.toISOString(),
  };
}

/** The session, or undefined when there is no file; a damaged file is an error. */
export async function readSession(path = sessionPath()): Promise<Session | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`Cannot read the session file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const s = JSON.parse(text) as Session;
    if (typeof s.access_token === 'string' && typeof s.refresh_token === 'string' && typeof s.api_base_url === 'string')
      return s;
  } catch {
    // reported below
  }
  throw new CliError(`The session file ${path} is damaged: delete it and run \`panic-api login EMAIL\` again.`);
}

/** Saved where only its owner can read it (writePrivateFile), in a folder created 0700. */
export async function writeSession(session: Session, path = sessionPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writePrivateFile(path, `${JSON.stringify(session, null, 2)}\n`);
}

/**
 * Written to a fresh file (mode 0600) then renamed over the old one, so what it holds (tokens, a
 * person's data) is never readable by others, not even for a moment, and never half written.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.chmod(0o600); // exactly 0600, whatever the umask
    await file.writeFile(text);
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await chmod(path, 0o600);
}

export async function deleteSession(path = sessionPath()): Promise<void> {
  await rm(path, { force: true });
}

/**
 * The session to use against the API: the server it came from, unless API_BASE_URL names another
 * one (then the tokens are not sent anywhere they were not issued).
 */
export async function currentSession(): Promise<Session> {
  const session = await readSession();
  if (!session) throw new CliError(NOT_LOGGED_IN);
  const wanted = process.env.API_BASE_URL?.trim() ? apiBaseUrl() : undefined;
  if (wanted && wanted !== session.api_base_url) {
    throw new CliError(
      `The saved session is for ${session.api_base_url}, not ${wanted}: run \`panic-api login ${shellArg(session.email)}\` against this server, or unset API_BASE_URL.`,
    );
  }
  return session;
}

/** The access token was refused (401 `unauthorized`), not something else a 401 says (a wrong password). */
const tokenRefused = (res: Answer) =>
  res.response.status === 401 &&
  (res.error as { error?: { code?: string } } | undefined)?.error?.code === 'unauthorized';

/**
 * A request with the saved access token (`call` gets a client that sends it). When the token is
 * refused the refresh token buys a new pair once, which is saved, and the request is retried.
 */
export async function authedRequest<T extends Answer>(
  json: boolean | undefined,
  call: (client: Api, session: Session) => Promise<T>,
): Promise<{ body: NonNullable<T['data']>; session: Session }> {
  let session = await currentSession();
  const send = (s: Session) => call(api({ baseUrl: s.api_base_url, token: s.access_token }), s);
  let res = await send(session);
  if (tokenRefused(res) && session.refresh_token) {
    session = await refreshed(json === true, session);
    res = await send(session);
  }
  return { body: await succeeded(json, res), session };
}

async function refreshed(json: boolean, session: Session): Promise<Session> {
  const { data, error, response } = await api({ baseUrl: session.api_base_url }).POST('/api/v1/auth/refresh', {
    body: { refresh_token: session.refresh_token },
  });
  if (data) {
    const next = sessionFrom(data, session.email, session.api_base_url);
    await writeSession(next);
    return next;
  }
  if (response.status !== 401) throw apiFailure(response.status, error, json, response.headers.get('retry-after'));
  // Another panic-api may have refreshed (and so rotated) the pair a moment ago: use its pair.
  const onDisk = await readSession();
  if (onDisk && onDisk.refresh_token !== session.refresh_token && onDisk.api_base_url === session.api_base_url)
    return onDisk;
  await deleteSession();
  throw new SessionEndedError(
    `Your session has ended (it expired, was logged out or ended from another session, or the password was changed or reset): run \`panic-api login ${shellArg(session.email)}\` again.`,
  );
}
