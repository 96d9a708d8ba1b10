import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../runtime/services.ts';
import { takeReceipt, type AppliedReceipt, type ReceiptStatus } from '../../delivery/receipts.ts';
import type { SuppressionKind } from '../../delivery/suppressions.ts';
import { TWILIO_STATUS_PATH, twilioStatusCallback } from '../../delivery/channels/twilio.ts';
import { AppError } from '../../shared/errors.ts';
import type { Limiter } from '../../platform/rate-limit.ts';
import { clientBucket } from '../../shared/trust-proxy.ts';
import { errors } from '../schemas.ts';
import { jsonBodyReader, refuseUnstorable, type BodyReader } from '../json-body.ts';
import { bodySignature, signatureMatches, twilioSignature } from '../webhook-signatures.ts';

const Answer = Type.Object({
  message_id: Type.String(),
  status: Type.String({ description: "The message's state after the receipt." }),
  changed: Type.Boolean({
    description: 'False for a repeated receipt, a late `sent`, or one after the message already had its final word.',
  }),
});
const answers = { 200: Answer, ...errors(400, 403, 404, 413, 415, 429) };
const tags = ['webhooks'];
/**
 * Genuine receipts come in bursts from a provider's few addresses: no general per-IP budget, but a
 * small body. Twilio's StatusCallback is under 2 KB and the others' receipts a few KB at their fields'
 * longest; past this, 413 before a byte is read as a receipt.
 */
const limits = { config: { limit: { family: null } }, bodyLimit: 8 * 1024 };
/** Twilio posts some 20-30 fields; every one is sorted and hashed for the signature, so past this many the form is refused unparsed. */
const MAX_TWILIO_FIELDS = 64;
/** Receipts one client address may send in a minute that fail their signature (a genuine one spends nothing); past them, 429. */
const FORGED_PER_MINUTE = 30;
const FORGED_MESSAGE = 'Too many receipts with a wrong signature from your address. Retry after the time given.';

/** A receipt's answer: what it did to the message, or 404 when no accepted message has that name. */
function answer(applied: AppliedReceipt | undefined) {
  if (!applied)
    throw new AppError(
      'not_found',
      'No accepted message has that id (a receipt may reach us before the send is recorded: retry later).',
    );
  return { message_id: applied.id, status: applied.status, changed: applied.changed };
}

/**
 * In this plugin only: the body is read raw, its signature checked by `verify` before anything else,
 * and only then read as every other body is. Any other content type is 415. A body that fails its
 * signature (403) spends its sender's budget of forgeries: past it, 429.
 */
function signedBodies(
  app: FastifyInstance,
  contentType: string,
  verify: (request: FastifyRequest, raw: Buffer) => void,
  read: BodyReader,
  forged: Limiter,
) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(contentType, { parseAs: 'buffer' }, (request, raw, done) => {
    try {
      verify(request, raw as Buffer);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'forbidden')) return done(err as Error, undefined);
      forged.consume(clientBucket(request.ip, request.socket.remoteAddress), FORGED_MESSAGE).then(
        () => done(err, undefined),
        (limited: Error) => done(limited, undefined),
      );
      return;
    }
    read(request, raw as Buffer, done);
  });
}

/** Whether a form has more than `max` fields, counted by its `&` separators on the raw bytes, parsing nothing. */
function moreFieldsThan(raw: Buffer, max: number): boolean {
  let separators = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0x26 && ++separators >= max) return true;
  return false;
}

/** Twilio's form fields, held to the same rule as JSON text (no NUL, no lone surrogate). */
const readForm: BodyReader = (_request, raw, done) => {
  try {
    const body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    refuseUnstorable(body);
    done(null, body);
  } catch (err) {
    done(err as Error);
  }
};

/** A JSON receipt signed `X-Signature: sha256=<hex HMAC-SHA256 of the body>` with the named secret. */
function hmacSigned(app: FastifyInstance, secret: string | undefined, name: string, forged: Limiter) {
  signedBodies(
    app,
    'application/json',
    (request, raw) => {
      if (!secret) throw new AppError('forbidden', `Receipts are refused: ${name} is not set.`);
      if (!signatureMatches(request.headers['x-signature'], bodySignature(raw, secret))) {
        throw new AppError('forbidden', `X-Signature is not sha256=<hex HMAC-SHA256 of the body, keyed with ${name}>.`);
      }
    },
    jsonBodyReader(app),
    forged,
  );
}

/** Twilio's MessageStatus values as our states; the ones before a final word change nothing. */
const TWILIO_STATUS: Record<string, ReceiptStatus> = {
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

/** Providers' receipts: Twilio's StatusCallback, the generic SMS provider's, and email events from any mail provider's bridge. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { config: settings, makeLimiter } = services;
  // one budget for the three routes: a forger gains nothing by switching
  const forged = makeLimiter({ keyPrefix: 'webhook-forged', points: FORGED_PER_MINUTE, durationSeconds: 60 });

  await app.register(async (scope) => {
    const twilio = scope.withTypeProvider<TypeBoxTypeProvider>();
    // either Twilio account may have sent it: the primary, or the fallback
    const authTokens = [
      settings.SMS_PROVIDER === 'twilio' ? settings.SMS_API_KEY : undefined,
      settings.SMS_FALLBACK_PROVIDER === 'twilio' ? settings.SMS_FALLBACK_API_KEY : undefined,
    ].filter((t): t is string => Boolean(t));
    signedBodies(
      twilio,
      'application/x-www-form-urlencoded',
      (request, raw) => {
        if (!authTokens.length || !settings.PUBLIC_URL)
          throw new AppError(
            'forbidden',
            'Twilio receipts are refused: SMS_PROVIDER=twilio and PUBLIC_URL are not both set.',
          );
        if (moreFieldsThan(raw, MAX_TWILIO_FIELDS))
          throw new AppError('payload_too_large', `Twilio's receipts have at most ${MAX_TWILIO_FIELDS} fields.`);
        // The URL Twilio was given (PUBLIC_URL, not the Host header a proxy rewrote), with the query Twilio called it with.
        const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
        const url = twilioStatusCallback(settings.PUBLIC_URL) + query;
        const fields = new URLSearchParams(raw.toString('utf8'));
        if (
          !authTokens.some((token) =>
            signatureMatches(request.headers['x-twilio-signature'], twilioSignature(url, fields, token)),
          )
        ) {
          throw new AppError('forbidden', 'X-Twilio-Signature does not match.');
        }
      },
      readForm,
      forged,
    );
    twilio.post(
      TWILIO_STATUS_PATH,
      {
        ...limits,
        schema: {
          tags,
          summary: "Twilio's StatusCallback (form fields as Twilio posts them, signed with X-Twilio-Signature)",
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({
            MessageSid: Type.String({ minLength: 1, maxLength: 64 }),
            MessageStatus: Type.String({ maxLength: 32 }),
            ErrorCode: Type.Optional(Type.String({ maxLength: 16 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { MessageSid, MessageStatus, ErrorCode } = request.body;
        const applied = await takeReceipt(services, {
          channel: 'sms',
          provider: 'twilio',
          ref: { providerId: MessageSid },
          status: TWILIO_STATUS[MessageStatus] ?? 'sent',
          errorCode: ErrorCode || undefined,
        });
        return answer(applied);
      },
    );
  });

  await app.register(async (scope) => {
    const sms = scope.withTypeProvider<TypeBoxTypeProvider>();
    hmacSigned(sms, settings.SMS_WEBHOOK_SECRET, 'SMS_WEBHOOK_SECRET', forged);
    sms.post(
      '/api/v1/webhooks/sms/status',
      {
        ...limits,
        schema: {
          tags,
          summary:
            "The generic SMS provider's receipt, signed X-Signature: sha256=<hex HMAC-SHA256 of the body, key SMS_WEBHOOK_SECRET>",
          body: Type.Object({
            id: Type.String({
              minLength: 1,
              maxLength: 200,
              description: "The provider's id of the message, as it answered the send.",
            }),
            status: Type.Union([
              Type.Literal('sent'),
              Type.Literal('delivered'),
              Type.Literal('undelivered'),
              Type.Literal('failed'),
            ]),
            error_code: Type.Optional(Type.String({ maxLength: 100 })),
            error_message: Type.Optional(Type.String({ maxLength: 1000 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { id, status, error_code, error_message } = request.body;
        const applied = await takeReceipt(services, {
          channel: 'sms',
          provider: 'http',
          ref: { providerId: id },
          status,
          errorCode: error_code,
          reason: error_message,
        });
        return answer(applied);
      },
    );
  });

  await app.register(async (scope) => {
    const email = scope.withTypeProvider<TypeBoxTypeProvider>();
    hmacSigned(email, settings.EMAIL_WEBHOOK_SECRET, 'EMAIL_WEBHOOK_SECRET', forged);
    email.post(
      '/api/v1/webhooks/email/events',
      {
        ...limits,
        schema: {
          tags,
          summary:
            "A mail provider's event, bridged: signed X-Signature: sha256=<hex HMAC-SHA256 of the body, key EMAIL_WEBHOOK_SECRET>",
          description:
            'Name the message by `message_id` (our id: the X-Panic-Message-Id header of the mail) or `provider_id` (its Message-ID). ' +
            '`bounced` means a hard bounce: the address is suppressed, as after `complained`.',
          body: Type.Object({
            message_id: Type.Optional(Type.String({ maxLength: 64 })),
            provider_id: Type.Optional(Type.String({ minLength: 1, maxLength: 998 })),
            event: Type.Union([Type.Literal('delivered'), Type.Literal('bounced'), Type.Literal('complained')]),
            reason: Type.Optional(Type.String({ maxLength: 1000 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { message_id, provider_id, event, reason } = request.body;
        if (!message_id === !provider_id)
          throw new AppError('validation_error', 'Give exactly one of message_id and provider_id.');
        const kind: SuppressionKind | undefined =
          event === 'bounced' ? 'bounce' : event === 'complained' ? 'complaint' : undefined;
        const applied = await takeReceipt(services, {
          channel: 'email',
          provider: 'smtp',
          ref: message_id ? { messageId: message_id } : { providerId: provider_id! },
          // a complaint comes from a mailbox the mail reached
          status: event === 'complained' ? 'delivered' : event,
          reason,
          suppress: kind && { kind, reason: `${event}${reason ? `: ${reason}` : ''}` },
        });
        return answer(applied);
      },
    );
  });
};
