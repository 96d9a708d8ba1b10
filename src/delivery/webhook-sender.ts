import { createHmac } from 'node:crypto';
import type { WebhookEndpoint } from '../config/webhooks.ts';
import { webhookBody, type ClaimedWebhook } from './webhooks.ts';

/**
 * The `webhook-signature` of a request, as Standard Webhooks defines it: `v1,` and the base64 of the
 * HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the secret's bytes, so any of
 * its libraries verifies it (the `standardwebhooks` npm package does in the tests).
 */
export function webhookSignature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** How much of a refusal's body is kept as its reason. */
const REASON_BODY_MAX = 200;

/** What a request came to: a 2xx, or why not (`stopped`: the worker cut it short, the receiver said nothing). */
export type WebhookAnswer = { ok: true } | { ok: false; reason: string; stopped: boolean };

/**
 * POSTs a delivery, signed at `now`: its id is its event's, the same on every attempt, so a receiver
 * drops what it already has. Redirects are not followed (a 3xx is a refusal). Never throws.
 */
export async function postWebhook(
  endpoint: WebhookEndpoint,
  key: Buffer,
  delivery: ClaimedWebhook,
  now: Date,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<WebhookAnswer> {
  const body = webhookBody(delivery.event);
  const timestamp = Math.floor(now.getTime() / 1000);
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(endpoint.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.any([timeout, stop]),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'panic-api-webhooks',
        'webhook-id': delivery.event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': webhookSignature(key, delivery.event.id, timestamp, body),
        ...(endpoint.authorization ? { authorization: endpoint.authorization } : {}),
      },
      body,
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => {});
      return { ok: true };
    }
    const said = await beginningOf(res);
    return { ok: false, reason: `HTTP ${res.status}${said ? `: ${said}` : ''}`, stopped: false };
  } catch (err) {
    if (stop.aborted) return { ok: false, reason: 'the worker stopped before the receiver answered', stopped: true };
    if (timeout.aborted)
      return { ok: false, reason: `no answer within ${timeoutMs / 1000} s (WEBHOOK_TIMEOUT_SECONDS)`, stopped: false };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, reason: cause?.code ?? cause?.message ?? (err as Error).message, stopped: false };
  }
}

/** The first characters of a refusal's body, on one line (a receiver's "signature invalid" says what to fix). */
async function beginningOf(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < REASON_BODY_MAX) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // the reason is the status alone
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, REASON_BODY_MAX).replace(/\s+/g, ' ').trim();
}
