import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../runtime/services.ts';
import { AppError } from '../shared/errors.ts';
import { clientBucket } from '../shared/trust-proxy.ts';
import { sameSecret } from '../http/same-secret.ts';
import { adminRoutes, type ActionWords } from '../http/routes/admin.ts';
import { loadConsolePages } from './page.ts';
import {
  consoleKeys,
  cookieOf,
  csrfMatches,
  csrfToken,
  issueSession,
  readSession,
  SESSION_COOKIE,
  sessionCookie,
  type ConsoleSession,
} from './session.ts';

/**
 * Every answer under /console: scripts and styles of this origin only, nothing inline, no other host,
 * never framed (CSP frame-ancestors, and X-Frame-Options for older browsers), never cached, no referrer.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Failed sign-ins a client address (an IPv4 address, an IPv6 /64) may make in SIGN_IN_WINDOW_SECONDS. */
export const SIGN_IN_FAILURES = 10;
const SIGN_IN_WINDOW_SECONDS = 600;

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** A diagnosis's operator step, as the console offers it: a button of the page, not a route. */
const CONSOLE_ACTIONS: ActionWords = {
  lift_suppression: () => 'Use "Lift the suppression" below.',
  see_queue: () => 'The Delivery health page shows the queue.',
};

/**
 * The support console: a sign-in with ADMIN_TOKEN, three pages and their files, and the admin API
 * itself, registered again under /console/api behind the console's session (a signed cookie) and,
 * for every change, its CSRF token. The pages call that API, so the console does nothing the admin
 * API does not. http-app.ts registers it only when ADMIN_TOKEN is set.
 */
export const consoleRoutes: FastifyPluginAsyncTypebox<{ services: Services; adminToken: string }> = async (
  app,
  { services, adminToken },
) => {
  const keys = consoleKeys(adminToken);
  const secure = !services.config.isDevelopment;
  const failures = services.makeLimiter({
    keyPrefix: 'console-sign-in-failed',
    points: SIGN_IN_FAILURES,
    durationSeconds: SIGN_IN_WINDOW_SECONDS,
  });
  const pages = loadConsolePages();

  // The console's routes, the admin API's copy included, are not the public contract; they spend a
  // per-address budget of their own (RATE_LIMIT_IP_PER_MINUTE), except the static files, which cost nothing.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
    const limit = route.config?.limit;
    route.config = { ...route.config, limit: { ...limit, family: limit?.family === null ? null : 'console' } };
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(HEADERS);
  });

  const sessionOf = (request: FastifyRequest): ConsoleSession | undefined =>
    readSession(keys, cookieOf(request.headers.cookie, SESSION_COOKIE), services.clock());

  /** The console's API and its changes: a live session, and for anything but a read its CSRF token. */
  const requireSession = async (request: FastifyRequest) => {
    const session = sessionOf(request);
    if (!session)
      throw new AppError(
        'unauthorized',
        'Sign in to the console first (/console/sign-in): a session lasts 30 minutes.',
      );
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(keys, session, request.headers['x-csrf-token']))
      throw new AppError(
        'forbidden',
        "A change needs the console's CSRF token (X-CSRF-Token): reload the page and try again.",
      );
  };

  const sessionAnswer = (session: ConsoleSession) => ({
    csrf_token: csrfToken(keys, session),
    expires_at: session.expiresAt.toISOString(),
  });

  const html = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);
  for (const [path, body] of [
    ['/console', pages.person],
    ['/console/health', pages.health],
  ] as const) {
    app.get(path, async (request, reply) =>
      sessionOf(request) ? html(reply, body) : reply.redirect('/console/sign-in', 303),
    );
  }
  app.get('/console/sign-in', async (request, reply) =>
    sessionOf(request) ? reply.redirect('/console', 303) : html(reply, pages.signIn),
  );

  app.post(
    '/console/sign-in',
    { schema: { body: Type.Object({ token: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }) } },
    async (request, reply) => {
      // Counted per address before the token is compared: past the limit even the right token waits, so the answer tells a guesser nothing.
      const client = `${clientBucket(request.ip, request.socket.remoteAddress)}`;
      const wait = await failures.waitSeconds(client);
      if (wait > 0)
        throw new AppError('rate_limited', 'Too many wrong tokens from your address. Try again later.', wait);
      if (!sameSecret(request.body.token, adminToken)) {
        await failures.consume(client, 'Too many wrong tokens from your address. Try again later.');
        request.log.warn('console sign-in refused: wrong token');
        throw new AppError('unauthorized', 'That is not the admin token (ADMIN_TOKEN).');
      }
      const session = issueSession(keys, services.clock());
      request.log.info('console sign-in');
      return reply.header('set-cookie', sessionCookie(session, secure)).send(sessionAnswer(session));
    },
  );

  app.get('/console/session', { onRequest: requireSession }, async (request) => sessionAnswer(sessionOf(request)!));

  app.post('/console/sign-out', { onRequest: requireSession }, async (_request, reply) =>
    reply.header('set-cookie', sessionCookie(undefined, secure)).send({ signed_out: true }),
  );

  for (const asset of pages.assets) {
    app.get(`/console/assets/${asset.name}`, { config: { limit: { family: null } } }, async (_request, reply) =>
      reply.type(asset.type).send(asset.body),
    );
  }

  await app.register(adminRoutes, {
    prefix: '/console/api',
    services,
    authorize: requireSession,
    actionWords: CONSOLE_ACTIONS,
  });
};
