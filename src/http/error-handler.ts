import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode, type NextStep } from '../shared/errors.ts';
import { isDatabaseUnavailable } from '../platform/db/unavailable.ts';
import { isGoneMeanwhile } from '../platform/db/gone.ts';
import { PATTERN_WORDS } from './schemas.ts';

/** A domain error's next step, in the routes that take it. */
const NEXT_STEP: Record<NextStep, string> = {
  request_unlock: 'Or ask for an unlock code: POST /api/v1/auth/request-unlock-otp.',
  verify_email:
    'Enter the code we sent (POST /api/v1/auth/verify-account), or ask for a new one (POST /api/v1/auth/resend-verification).',
  reset_password: 'Set one with a reset code: POST /api/v1/auth/forgot-password.',
};

const worded = (err: AppError) => (err.next ? `${err.message} ${NEXT_STEP[err.next]}` : err.message);

/** What a client is told to wait during a database outage: long enough not to hammer a restart. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

function send(reply: FastifyReply, code: ErrorCode, message: string, retryAfter?: number) {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.status(ERROR_CODES[code]).send({ error: { code, message } });
}

/**
 * A path Fastify refuses before routing: broken percent-encoding (`%zz`, bytes that are not UTF-8) or a
 * part longer than the router reads (100 characters). Fastify's own answer is another shape and, for
 * the long part, echoes the whole path back.
 */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A part of the path is too long: no id is that long.'
      : 'The path is not valid URL encoding: percent-encode it as UTF-8.';
  return send(reply, 'validation_error', message);
}

/**
 * Maps every failure to {error:{code,message}}: domain errors by code, framework errors to 4xx, a
 * database outage to 503, a row whose account was deleted meanwhile to 404, the rest to 500.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) return send(reply, err.code, worded(err), err.retryAfterSeconds);
    if (err.validation) {
      const where = err.validationContext ?? 'body';
      const first = err.validation[0];
      const field = first?.instancePath
        ? first.instancePath.replace(/^\//, '').replace(/\//g, '.')
        : (first?.params as { missingProperty?: string })?.missingProperty;
      const pattern = first?.keyword === 'pattern' ? (first.params as { pattern?: string }).pattern : undefined;
      const detail =
        pattern !== undefined
          ? `must be ${PATTERN_WORDS.get(pattern) ?? 'in the form /docs gives'}`
          : (first?.message ?? err.message);
      return send(reply, 'validation_error', `Invalid ${where}${field ? ` field "${field}"` : ''}: ${detail}.`);
    }
    if (isDatabaseUnavailable(err)) {
      // An outage, not a bug: one line per request, without the stack.
      request.log.warn({ err: err.message }, 'the database does not answer: 503 service_unavailable');
      return send(
        reply,
        'service_unavailable',
        'The database is not answering right now. Try again in a few seconds.',
        DATABASE_RETRY_AFTER_SECONDS,
      );
    }
    if (isGoneMeanwhile(err)) {
      request.log.warn({ err: err.message }, 'what the request was for was deleted while it ran: 404 not_found');
      return send(
        reply,
        'not_found',
        'What this request was for was deleted while it ran (the account, or its session): nothing was changed.',
      );
    }
    const status = err.statusCode ?? 500;
    if (status === 413) return send(reply, 'payload_too_large', 'The request body is too large.');
    if (status === 415)
      return send(reply, 'unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".');
    if (status === 429) return send(reply, 'rate_limited', err.message);
    if (status >= 400 && status < 500) {
      const message =
        err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
          ? 'The body is not valid JSON.'
          : err.message;
      return send(reply, 'validation_error', message);
    }
    request.log.error({ err }, 'request failed');
    return send(reply, 'internal_error', 'Something went wrong on our side. It was logged; try again in a moment.');
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, 'not_found', `There is no ${request.method} ${request.url.split('?')[0]} here. See /docs for the API.`),
  );
}
