/** Receipts as providers send them, signed by the tests' own hand from the providers' documentation (never by the service's code). */
import { createHmac } from 'node:crypto';
import type { Message } from '../../src/platform/db/schema.ts';
import { type Answer, readAnswer } from './api.ts';
import { phoneCodeAsked, type Stack } from './stack.ts';
import { messageReaching } from './outbox-rows.ts';

export const TWILIO_STATUS_PATH = '/api/v1/webhooks/twilio/status';

/** Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL and each field's name and value, sorted by name. */
export function signAsTwilio(url: string, fields: Record<string, string>, authToken: string): string {
  const data = Object.keys(fields)
    .sort()
    .reduce((acc, name) => acc + name + fields[name], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. */
export const signBody = (body: string, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** What a receipt route answers (the three answer alike). */
export type ReceiptAnswer = Answer<'POST', typeof TWILIO_STATUS_PATH>;

/** A POST of a raw body with the headers given to a receipt route: sent as it is, its answer typed by the contract. */
export async function postRaw(
  stack: Stack,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<ReceiptAnswer> {
  const url = `${stack.baseUrl}${path}`;
  return (await readAnswer(await fetch(url, { method: 'POST', headers, body }), {
    method: 'POST',
    url,
  })) as ReceiptAnswer;
}

/** A JSON receipt signed with `secret`. */
export const postSigned = (stack: Stack, path: string, body: string, secret: string) =>
  postRaw(stack, path, body, { 'content-type': 'application/json', 'x-signature': signBody(body, secret) });

/** Twilio's StatusCallback form with the signature given. */
export const postTwilioReceipt = (stack: Stack, fields: Record<string, string>, signature: string) =>
  postRaw(stack, TWILIO_STATUS_PATH, new URLSearchParams(fields).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': signature,
  });

/** A verified account asks for a phone code; answers its phone and the message once a provider accepted it. */
export async function acceptedSms(
  stack: Stack,
  tag = 'receipt',
  timeoutMs?: number,
): Promise<{ phone: string; row: Message }> {
  const { phone } = (await phoneCodeAsked(stack, tag)).person;
  return { phone, row: await messageReaching(stack, phone, 'sent', timeoutMs) };
}
