import { createHmac } from 'node:crypto';
import { sameSecret } from './same-secret.ts';

/**
 * Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL Twilio
 * called followed by every POST field's name and value, sorted by name (a repeated name's values in
 * order), with nothing between them.
 */
export function twilioSignature(url: string, fields: URLSearchParams, authToken: string): string {
  const sorted = [...fields].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const hmac = createHmac('sha1', authToken).update(url);
  for (const [name, value] of sorted) hmac.update(name + value);
  return hmac.digest('base64');
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the generic provider's and the email bridge's X-Signature. */
export const bodySignature = (raw: Buffer, secret: string): string =>
  `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

/** Constant-time comparison of a presented signature with the expected one. */
export const signatureMatches = (presented: string | string[] | undefined, expected: string): boolean =>
  typeof presented === 'string' && sameSecret(presented, expected);
