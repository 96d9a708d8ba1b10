// What every console page shares: the vocabulary the server filled in, elements built without HTML
// (every value from the database becomes text, never markup), the API with the session's CSRF token,
// times in words, and signing out.

/** Labels of purposes, channels, statuses and events: console/page.ts fills the JSON block in. */
export const vocabulary = JSON.parse(document.getElementById('vocabulary')?.textContent || '{}');

/**
 * An element with attributes and children. Strings become text nodes: this is the only way the
 * console puts data on a page, so a name such as <img onerror=…> shows as those characters.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let csrf;

/** The session's CSRF token, read once from the server (the cookie itself is out of the page's reach). */
async function csrfToken() {
  csrf ??= (await api('GET', '/console/session')).csrf_token;
  return csrf;
}

/** An error the API answered: its code, its sentence and, when given, the seconds to wait. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Calls the console's API (the admin API, with this session); a lost session goes back to the sign-in. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = await csrfToken();
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/console/sign-in') {
    location.assign('/console/sign-in');
    throw new ApiError(401, 'unauthorized', 'Your session ended: sign in again.');
  }
  if (!res.ok) {
    const retry = res.headers.get('retry-after');
    throw new ApiError(
      res.status,
      data.error?.code ?? 'error',
      data.error?.message ?? `The server answered ${res.status}.`,
      retry ? Number(retry) : undefined,
    );
  }
  return data;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A moment in the reader's own time zone, in a <time> that keeps the exact value. */
export function when(iso) {
  if (!iso) return '—';
  return el('time', { datetime: iso, title: iso }, dateTime.format(new Date(iso)));
}

/** Seconds in words: "45 s", "12 min 5 s", "3 h 10 min", "2 d 4 h". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}

/** How long ago a moment was, in words. */
export const ago = (iso) => `${duration((Date.now() - new Date(iso).getTime()) / 1000)} ago`;

export const channelLabel = (channel) => vocabulary.channels?.[channel] ?? channel;

/** Says something in the page's status line (read out by screen readers), and clears the error line. */
export function say(text) {
  document.getElementById('status').textContent = text;
  document.getElementById('error').textContent = '';
}

/** Shows an error in the page's alert line. */
export function fail(err) {
  document.getElementById('status').textContent = '';
  const wait = err.retryAfter ? ` (try again in ${duration(err.retryAfter)})` : '';
  document.getElementById('error').textContent = `${err.message}${wait}`;
}

/** The Sign out button of the header. */
export function wireSignOut() {
  document.getElementById('sign-out')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/console/sign-out');
    } finally {
      location.assign('/console/sign-in');
    }
  });
}
