/**
 * Whether the database refused a row because the row it points to is gone (SQLSTATE 23503, a foreign
 * key): the account deleted while a request for it ran (a code asked, a sign-in), a session ended
 * while it was refreshed. Not the request's fault, nor a bug: what it was for no longer exists.
 */
export function isGoneMeanwhile(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '23503';
}
