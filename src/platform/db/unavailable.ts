/**
 * Whether an error says the database cannot be reached or stopped answering (an outage, worth a
 * retry), as opposed to a statement it refused (a bug or a constraint, such as a unique violation).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  // pg-pool wraps its connection timeout around the socket's error: look at the causes too.
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || isOutageSqlState(code))) return true;
    if (PG_MESSAGES.some((m) => m.test(e.message))) return true;
  }
  return false;
}

/** Node's socket errors: refused, reset, unreachable, name not resolved. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Class 08 (connection exception), the server shutting down or starting, or out of connections. */
const isOutageSqlState = (code: string) =>
  /^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code);

/** pg's and pg-pool's own errors for a lost or timed-out connection, which carry no code. */
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
];
