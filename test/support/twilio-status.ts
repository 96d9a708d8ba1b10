/**
 * Twilio's StatusCallback requests as Twilio sends them: an `application/x-www-form-urlencoded` POST to
 * the URL the service gave, signed `X-Twilio-Signature` over that URL and the fields (receipts.ts's
 * signAsTwilio, written from Twilio's documentation; the twilio helper library is not installed).
 */
import { signAsTwilio } from './receipts.ts';

/**
 * POSTs `fields` to `statusCallback` (the URL the service put in the request, which is what Twilio signs),
 * or to `postTo` when the test reaches the service at another address than its public one.
 */
export function postTwilioStatus(
  statusCallback: string,
  fields: Record<string, string>,
  authToken: string,
  opts: { postTo?: string; signature?: string } = {},
): Promise<Response> {
  return fetch(opts.postTo ?? statusCallback, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': opts.signature ?? signAsTwilio(statusCallback, fields, authToken),
    },
    body: new URLSearchParams(fields).toString(),
  });
}
