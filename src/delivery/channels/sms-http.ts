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
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new DeliveryError(`${provider} API not reachable at ${new URL(url).origin}: ${cause ?? (err as Error).message}`, false);
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
    const detail = typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : text.slice(0, 300);
    throw new DeliveryError(`${provider} API answered ${res.status}: ${detail}`, permanent);
  }
  return body;
}
