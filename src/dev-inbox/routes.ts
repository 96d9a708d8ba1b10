import { Type, type Static } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../runtime/services.ts';
import { inboxHtml, listInbox, type InboxMessage } from './messages.ts';
import { loadInboxPage } from './page.ts';
import { AppError } from '../shared/errors.ts';
import { isLoopback } from '../shared/trust-proxy.ts';
import { sameSecret } from '../http/same-secret.ts';
import { Uuid } from '../http/schemas.ts';
import { Nullable } from '../contract/nullable.ts';

const InboxRow = Type.Object({
  id: Type.String(),
  channel: Type.String(),
  recipient: Type.String(),
  purpose: Type.String(),
  status: Type.String(),
  otp: Nullable(Type.String()),
  subject: Nullable(Type.String()),
  body_text: Type.String(),
  created_at: Type.String(),
  expires_at: Nullable(Type.String()),
  sent_at: Nullable(Type.String()),
  last_error: Nullable(Type.String()),
  locale: Nullable(Type.String()),
  has_html: Type.Boolean(),
});
/** One message of GET /dev/inbox/messages (`panic-api inbox` reads it too). */
export type InboxRow = Static<typeof InboxRow>;

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

const toJson = (m: InboxMessage) => ({
  ...m,
  created_at: new Date(m.created_at).toISOString(),
  expires_at: iso(m.expires_at),
  sent_at: iso(m.sent_at),
});

/**
 * The page loads its own style and script and this origin's JSON, nothing inline (no 'unsafe-inline'),
 * nothing from elsewhere; it frames only the preview below.
 */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** The page's style and script: their own content type, which nosniff makes the browser hold them to. */
const ASSET_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/**
 * An email's HTML as a mail client gets it, for the page's preview frame: its own styles and data:
 * or https images only, no script, no form, no navigation (`sandbox`), framed only by the inbox page.
 */
const PREVIEW_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** The names this machine goes by in a browser's address bar, with any port: a Host header of any other name is a page of another site (DNS rebinding). */
const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/** Headers a proxy or tunnel adds: a request that carries one came from elsewhere, whatever its socket says. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

/**
 * Every code, password-reset codes included, is readable here, so without DEV_INBOX_TOKEN only a
 * browser or command on this machine may read it: the socket's peer is loopback (never request.ip,
 * which X-Forwarded-For sets), the Host header names this machine (a page of another site whose name
 * was rebound to 127.0.0.1 sends its own name), and no proxy or tunnel forwarded it (they add a
 * forwarding header). With DEV_INBOX_TOKEN set (a container, a shared dev box) the token alone opens
 * it, from anywhere: it is a deliberate opening, and a rebinding page or a tunnel's stranger does not
 * have it. The token comes in `X-Dev-Inbox-Token` or `?token=`.
 */
function guard(token: string | undefined) {
  return async (request: FastifyRequest) => {
    if (token) {
      const sent = request.headers['x-dev-inbox-token'] ?? (request.query as { token?: string } | undefined)?.token;
      if (typeof sent === 'string' && sameSecret(sent, token)) return;
      throw new AppError(
        'forbidden',
        'The dev inbox needs its token: open /dev/inbox?token=$DEV_INBOX_TOKEN, or send it as X-Dev-Inbox-Token.',
      );
    }
    const local =
      isLoopback(request.socket.remoteAddress) &&
      LOCAL_HOST.test(request.headers.host ?? '') &&
      !FORWARDING_HEADERS.some((name) => request.headers[name] !== undefined);
    if (!local) {
      throw new AppError(
        'forbidden',
        'The dev inbox answers only on the machine the server runs on, at http://localhost, 127.0.0.1 or [::1], not through a proxy or tunnel. ' +
          'To open it from elsewhere (a container, another host), set DEV_INBOX_TOKEN and open /dev/inbox?token=<it>.',
      );
    }
  };
}

/**
 * The development inbox: every message with its code, as a page and as JSON. app.ts registers this
 * only when APP_ENV=development, so elsewhere both paths fall through to the 404 handler.
 */
export const devInboxRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', guard(services.config.DEV_INBOX_TOKEN));
  app.get(
    '/dev/inbox/messages',
    {
      schema: {
        hide: true,
        querystring: Type.Object({
          to: Type.Optional(Type.String({ maxLength: 254 })),
          token: Type.Optional(Type.String({ maxLength: 256 })),
        }),
        response: { 200: Type.Object({ messages: Type.Array(InboxRow) }) },
      },
    },
    async (request, reply) => {
      const messages = await listInbox(services.db, services.seal, {
        to: request.query.to,
        defaultRegion: services.config.DEFAULT_PHONE_REGION,
      });
      reply.header('cache-control', 'no-store');
      return { messages: messages.map(toJson) };
    },
  );

  app.get(
    '/dev/inbox/messages/:id/html',
    {
      schema: {
        hide: true,
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 256 })) }),
      },
    },
    async (request, reply) => {
      const html = await inboxHtml(services.db, services.seal, request.params.id);
      if (html === undefined) throw new AppError('not_found', 'No such message with an HTML part in the dev inbox.');
      return reply.headers(PREVIEW_HEADERS).send(html);
    },
  );

  const page = loadInboxPage(services.config.DEV_INBOX_TOKEN);
  app.get('/dev/inbox', { schema: { hide: true } }, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).send(page.html),
  );
  for (const asset of page.assets) {
    app.get(`/dev/inbox/${asset.name}`, { schema: { hide: true } }, async (_request, reply) =>
      reply.headers({ ...ASSET_HEADERS, 'content-type': asset.type }).send(asset.body),
    );
  }
};
