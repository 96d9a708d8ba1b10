/**
 * The support console's session: a signed cookie, nothing stored. Its value carries its own expiry and
 * a random id, signed with HMAC-SHA256 under a key derived from ADMIN_TOKEN, so it survives a restart
 * and works across instances, a changed byte is refused, and rotating ADMIN_TOKEN ends every console
 * session at once. The CSRF token of a session is derived from its id under a second key: the page
 * sends it with every change, and a page of another site, which cannot read it, cannot make one.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a console sign-in lasts: short, since the token opens every account's delivery story. */
export const CONSOLE_SESSION_SECONDS = 30 * 60;

/** The cookie's name; its Path is /console, so no other route of the service ever receives it. */
export const SESSION_COOKIE = 'panic_console';

const VERSION = 'v1';

export interface ConsoleKeys {
  session: Buffer;
  csrf: Buffer;
}

/** The keys of console sessions and their CSRF tokens, derived from the admin token (never the token itself). */
export function consoleKeys(adminToken: string): ConsoleKeys {
  const derive = (purpose: string) => createHmac('sha256', adminToken).update(`panic-api console ${purpose}`).digest();
  return { session: derive('session v1'), csrf: derive('csrf v1') };
}

const mac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64url');

const sameMac = (a: string, b: string) => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface ConsoleSession {
  /** The cookie's value: `v1.<expiry, unix seconds>.<id>.<signature>`. */
  value: string;
  id: string;
  expiresAt: Date;
}

/** A new session, from now for CONSOLE_SESSION_SECONDS. */
export function issueSession(keys: ConsoleKeys, now: Date): ConsoleSession {
  const expiresAt = new Date((Math.floor(now.getTime() / 1000) + CONSOLE_SESSION_SECONDS) * 1000);
  const id = randomBytes(18).toString('base64url');
  const body = `${VERSION}.${expiresAt.getTime() / 1000}.${id}`;
  return { value: `${body}.${mac(keys.session, body)}`, id, expiresAt };
}

/** The session a cookie value holds, when its signature is ours and it has not expired; else undefined. */
export function readSession(keys: ConsoleKeys, value: string | undefined, now: Date): ConsoleSession | undefined {
  const parts = value?.split('.');
  if (!value || parts?.length !== 4 || parts[0] !== VERSION) return undefined;
  const [, expiry, id, signature] = parts;
  if (!sameMac(signature, mac(keys.session, `${VERSION}.${expiry}.${id}`))) return undefined;
  const expiresAt = new Date(Number(expiry) * 1000);
  if (!/^\d{1,12}$/.test(expiry) || expiresAt <= now) return undefined;
  return { value, id, expiresAt };
}

/** The CSRF token of a session. */
export const csrfToken = (keys: ConsoleKeys, session: Pick<ConsoleSession, 'id'>): string => mac(keys.csrf, session.id);

/** Whether a request's CSRF token is its session's, compared in constant time. */
export const csrfMatches = (keys: ConsoleKeys, session: Pick<ConsoleSession, 'id'>, sent: unknown): boolean =>
  typeof sent === 'string' && sameMac(sent, csrfToken(keys, session));

/** The value of one cookie of a Cookie header, or undefined. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header of a session (or, with no session, the one that ends it). */
export function sessionCookie(session: ConsoleSession | undefined, secure: boolean): string {
  const attributes = ['Path=/console', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  return session
    ? [`${SESSION_COOKIE}=${session.value}`, `Max-Age=${CONSOLE_SESSION_SECONDS}`, ...attributes].join('; ')
    : [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ');
}
