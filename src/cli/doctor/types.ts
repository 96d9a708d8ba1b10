/** One line of `panic-api doctor`: what was checked, how it went, and what to do about it. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  /** One sentence: what doctor found. Never holds a secret value, only variable names. */
  finding: string;
  /** What to do, for every row that is not ok. */
  fix?: string;
}

export type CheckStatus = Check['status'];

export const ok = (name: string, finding: string): Check => ({ name, status: 'ok', finding });
export const warn = (name: string, finding: string, fix: string): Check => ({ name, status: 'warn', finding, fix });
export const fail = (name: string, finding: string, fix: string): Check => ({ name, status: 'fail', finding, fix });

/** A delivery setting that is absent: fine in development (dev inbox), broken everywhere else. */
export const missingSeverity = (appEnv: string): CheckStatus => (appEnv === 'development' ? 'warn' : 'fail');

/** Longest any check may take; each one sets shorter timeouts on its own connections. */
export const CHECK_TIMEOUT_MS = 10_000;

/** The most specific error code of a Node/driver error (nodemailer keeps the socket's in originalCode). */
export function errorCode(err: unknown): string | undefined {
  const e = err as { originalCode?: unknown; code?: unknown; cause?: unknown; errors?: unknown[] } | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.originalCode === 'string') return e.originalCode;
  // net.connect to a name with several addresses fails with an AggregateError whose own message is empty
  if (Array.isArray(e.errors) && e.errors.length) {
    const inner = errorCode(e.errors[0]);
    if (inner) return inner;
  }
  if (typeof e.code === 'string') return e.code;
  if (e.cause) return errorCode(e.cause);
  return undefined;
}

/** The error's words, or its code when it has none (AggregateError). */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; errors?: unknown[] } | undefined;
  const message = typeof e?.message === 'string' ? e.message.trim() : '';
  if (message) return message.split('\n')[0];
  if (Array.isArray(e?.errors) && e.errors.length) return errorText(e.errors[0]);
  return errorCode(err) ?? String(err);
}

export const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNECTION',
  'ECONNRESET',
  'EDNS',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Short gloss for the codes people meet most. */
export function explainCode(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'ECONNREFUSED: nothing listens on that port';
    case 'ENOTFOUND':
    case 'EDNS':
      return `${code}: no such host name`;
    case 'EAI_AGAIN':
      return 'EAI_AGAIN: DNS lookup failed';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `${code}: no answer in time`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${code}: no route to the host`;
    default:
      return code ?? 'unknown error';
  }
}
