import { DeliveryError } from './types.ts';

/** A provider's refusal read from its answer: its own code, its words, and whether no retry can help. */
export interface Refusal {
  code?: string;
  detail: string;
  permanent: boolean;
}

/** How a provider's error answer reads; `body` is the parsed JSON, or the text when it was not JSON. */
export type ReadRefusal = (status: number, body: unknown, text: string) => Refusal;

/** Most providers (Twilio, SMS gateways): 4xx but 408/429 is final, the code is `code` or `error_code`, the words `message`. */
export const readRefusal: ReadRefusal = (status, body, text) => ({
  code: errorCodeOf(body),
  detail:
    typeof body === 'object' && body && 'message' in body
      ? String((body as { message: unknown }).message)
      : text.slice(0, 300),
  permanent: status >= 400 && status < 500 && status !== 408 && status !== 429,
});

/**
 * One POST to a provider's API (SMS, WhatsApp, calls); a refusal becomes a DeliveryError with the
 * HTTP status and the provider's code, final or retried as `read` says; no answer at all is retried.
 */
export async function postToProvider(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  read: ReadRefusal = readRefusal,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const reason = (err as { cause?: { code?: string; message?: string } }).cause;
    const message = reason?.message ?? (err as Error).message;
    throw new DeliveryError(
      `${provider} API not reachable at ${new URL(url).origin}: ${reason?.code ?? (err as Error).message}`,
      false,
      { code: reason?.code, original: reason?.code ? { code: reason.code, message } : { message } },
      undefined,
      { cause: err },
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a non-JSON answer is kept as text for the error message
  }
  if (!res.ok) {
    const { code, detail, permanent } = read(res.status, body, text);
    throw new DeliveryError(`${provider} API answered ${res.status}: ${detail}`, permanent, {
      status: res.status,
      code,
      // the answer as the provider wrote it: Twilio's { code, message, more_info, status }, Meta's { error }, or a gateway's text
      original: { status: res.status, body },
    });
  }
  return body;
}

/** The provider's own error code in its answer: Twilio's `code`, or a gateway's `error_code`. */
function errorCodeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || !body) return undefined;
  const { code, error_code } = body as { code?: unknown; error_code?: unknown };
  const found = code ?? error_code;
  return typeof found === 'string' || typeof found === 'number' ? String(found) : undefined;
}
