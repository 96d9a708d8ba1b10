import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const UNSTORABLE_MESSAGE = 'The body contains a NUL character or broken Unicode (a lone surrogate).';
/** A NUL (PostgreSQL text cannot hold it) or a UTF-16 surrogate without its pair (not text at all). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what PostgreSQL text cannot hold
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function findUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.some(findUnstorable);
  if (value && typeof value === 'object')
    return Object.entries(value).some(([k, v]) => UNSTORABLE.test(k) || findUnstorable(v));
  return false;
}

/** A 400 for a parsed body with a NUL character or a lone surrogate anywhere in it (the webhooks' own parsers too). */
export function refuseUnstorable(body: unknown): void {
  if (findUnstorable(body)) throw new AppError('validation_error', UNSTORABLE_MESSAGE);
}

/**
 * How the service reads a JSON body: as Fastify parses it (prototype poisoning refused), but only when
 * it is text that can be stored as given: invalid UTF-8, NUL characters and lone surrogates are a 400,
 * not a 500 from the database nor a value silently changed to U+FFFD.
 */
export type BodyReader = (
  request: FastifyRequest,
  raw: Buffer,
  done: (err: Error | null, body?: unknown) => void,
) => void;

/**
 * `unstorable: 'pass'` leaves the NUL and lone-surrogate check to the route, for a body whose parts it
 * reads only some of (Meta's webhook: a stranger's message to the business number comes in it too).
 */
export function jsonBodyReader(app: FastifyInstance, opts: { unstorable?: 'refuse' | 'pass' } = {}): BodyReader {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const refuse = opts.unstorable !== 'pass';
  return (request, raw, done) => {
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      return done(new AppError('validation_error', 'The body is not valid UTF-8 text.'));
    }
    parseJson(request, text, (err, body) => {
      if (err) return done(err);
      if (refuse && findUnstorable(body)) return done(new AppError('validation_error', UNSTORABLE_MESSAGE));
      done(null, body);
    });
  };
}

/**
 * Every JSON body of the API is read so (the webhooks read theirs the same way, after their signature),
 * and a query string or path with a NUL or a lone surrogate is refused as such a body is: a lookup
 * with one was a 500 from the database.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const read = jsonBodyReader(app);
  // Fastify also reads text/plain, which a JSON body then fails as "must be object": fetch sends a
  // string body as text/plain unless told otherwise, and 415 says what to change.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) =>
    read(request, raw as Buffer, done),
  );
  app.addHook('preValidation', async (request) => {
    if (findUnstorable(request.query) || findUnstorable(request.params))
      throw new AppError(
        'validation_error',
        'The query or path contains a NUL character or broken Unicode (a lone surrogate).',
      );
  });
}
