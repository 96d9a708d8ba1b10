import { DeliveryError } from './types.ts';

/** One POST to an SMS API; 4xx (but 408/429) is final, other failures are retried. */
export async function postToProvider(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
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
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    const detail =
      typeof body === 'object' && body && 'message' in body
        ? String((body as { message: unknown }).message)
        : text.slice(0, 300);
    throw new DeliveryError(`${provider} API answered ${res.status}: ${detail}`, permanent, {
      status: res.status,
      code: errorCodeOf(body),
      // the answer as the provider wrote it: Twilio's { code, message, more_info, status }, or a gateway's text
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
