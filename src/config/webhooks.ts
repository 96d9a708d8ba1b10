/**
 * A platform service that is told of account changes (delivery/webhooks.ts): where to POST, with its
 * credentials apart, and the name it goes by in the outbox's rows, the metrics and the admin state.
 */
export interface WebhookEndpoint {
  /** host[:port] and path: never the credentials or the query, which may carry a key. Distinct per endpoint. */
  name: string;
  /** The URL without its credentials. */
  url: string;
  /** `Basic …` from credentials written in the URL (fetch refuses a URL that holds them). */
  authorization?: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * WEBHOOK_URLS: http(s) URLs, comma-separated. In production each must be https, unless it is this
 * machine (a sidecar that carries it on): the bodies hold email addresses and phone numbers, and the
 * signature proves who sent them, not that nobody read them on the way. Throws the sentence that
 * names the mistake.
 */
export function parseWebhookUrls(text: string | undefined, production: boolean): WebhookEndpoint[] {
  const entries = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const endpoints = entries.map((entry): WebhookEndpoint => {
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      throw new Error(`"${redact(entry)}" is not a URL (e.g. https://accounts.example.com/hooks/panic)`);
    }
    const name = `${u.host}${u.pathname}`;
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`${name} must be an http(s) URL`);
    if (u.hash) throw new Error(`${name} must not have a #fragment`);
    if (production && u.protocol !== 'https:' && !LOOPBACK.has(u.hostname))
      throw new Error(`${name} must be https in production (http only to localhost, 127.0.0.1 or [::1])`);
    const authorization =
      u.username || u.password
        ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
        : undefined;
    u.username = '';
    u.password = '';
    return { name, url: u.toString(), authorization };
  });
  const names = endpoints.map((e) => e.name);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) throw new Error(`${twice[0]} is given twice (endpoints are told apart by host and path)`);
  return endpoints;
}

/** A URL as an error may show it: without what stands between `//` and `@`. */
const redact = (entry: string) => entry.replace(/\/\/[^/@]*@/, '//…@');

/** The bytes of a WEBHOOK_SECRET (`whsec_` and base64, as Standard Webhooks gives them), or undefined when it is not one. */
export function webhookKey(secret: string): Buffer | undefined {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret.trim());
  if (!m || m[1].length % 4 !== 0) return undefined;
  const key = Buffer.from(m[1], 'base64');
  // Standard Webhooks: between 24 and 64 bytes
  return key.length >= 24 && key.length <= 64 ? key : undefined;
}
