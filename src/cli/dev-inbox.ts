/**
 * The one request to the dev inbox (GET /dev/inbox/messages), for `panic-api inbox` and the hints of
 * the client commands. It is a development tool, left out of /openapi.json on purpose, so its answer
 * is typed by the route's own schema instead of the generated contract.
 */
import { apiBaseUrl, guardedFetch } from './api-client.ts';
import type { InboxRow } from '../dev-inbox/routes.ts';

export type { InboxRow };

export async function devInboxMessages(
  to: string | undefined,
  opts: { baseUrl?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: { messages?: InboxRow[] } | undefined }> {
  const base = opts.baseUrl ?? apiBaseUrl();
  const headers: Record<string, string> = { accept: 'application/json' };
  // The dev inbox's token, for a server that asks for one (a container, a shared machine).
  if (process.env.DEV_INBOX_TOKEN) headers['x-dev-inbox-token'] = process.env.DEV_INBOX_TOKEN;
  const res = await guardedFetch(base, opts.timeoutMs)(
    `${base}/dev/inbox/messages${to ? `?${new URLSearchParams({ to })}` : ''}`,
    { headers },
  );
  const body = await res.json().catch(() => undefined);
  return { status: res.status, body };
}
