import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../platform/logger.ts';
import type { Services } from './services.ts';
import type { LimiterFactory } from '../platform/rate-limit.ts';
import { frameworkError, installErrorHandling } from '../http/error-handler.ts';
import { installIpRateLimit } from '../http/ip-rate-limit.ts';
import { installJsonBodyParser } from '../http/json-body.ts';
import { authRoutes } from '../http/routes/auth.ts';
import { userRoutes } from '../http/routes/users.ts';
import { healthRoutes } from '../http/routes/health.ts';
import { devInboxRoutes } from '../dev-inbox/routes.ts';
import { consoleRoutes } from '../console/routes.ts';
import { adminRoutes } from '../http/routes/admin.ts';
import { webhookRoutes } from '../http/routes/webhooks.ts';
import type { Channels } from '../delivery/channels/index.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Config } from '../config/settings.ts';
import { requireAdminToken } from '../http/auth-hook.ts';
import { fastifyTrustProxy } from '../shared/trust-proxy.ts';

/** Builds the HTTP app from its dependencies; it opens nothing itself. */
export async function buildApp(services: Services): Promise<FastifyInstance> {
  const { logger } = services;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: fastifyTrustProxy(services.config.TRUST_PROXY),
    bodyLimit: 64 * 1024,
    // A client that trickles its request (slowloris) gets 408 and loses the connection; Node checks
    // every second, and applies requestTimeout only when headersTimeout is no longer than it. Both go
    // to the server as it is made: Node checks them against each other then, and its default
    // requestTimeout (300 s) refused a headersTimeout above it.
    requestTimeout: services.config.REQUEST_TIMEOUT_SECONDS * 1000,
    http: {
      connectionsCheckingInterval: 1000,
      requestTimeout: services.config.REQUEST_TIMEOUT_SECONDS * 1000,
      headersTimeout: services.config.REQUEST_TIMEOUT_SECONDS * 1000,
    },
    http2: false,
    frameworkErrors: frameworkError,
    // Wrong types are refused, not coerced: "12345678" and 12345678 are not the same password.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorateRequest('user', null);
  app.decorateRequest('sessionId', null);
  installRequestMetrics(app, services.metrics);
  installErrorHandling(app);
  installJsonBodyParser(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Panic System API',
        version: '1',
        description: 'Accounts and one-time-code verification (email and SMS) for the Panic System platform.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  installIpRateLimit(
    app,
    {
      perMinute: services.config.RATE_LIMIT_IP_PER_MINUTE,
      expensivePerMinute: services.config.RATE_LIMIT_EXPENSIVE_PER_MINUTE,
    },
    services.makeLimiter,
  );
  await app.register(healthRoutes, { db: services.db });
  await app.register(authRoutes, { prefix: '/api/v1/auth', services });
  await app.register(userRoutes, { prefix: '/api/v1/users', services });
  await app.register(webhookRoutes, { services });
  if (services.config.isDevelopment) await app.register(devInboxRoutes, { services });
  if (services.config.ADMIN_TOKEN) {
    await app.register(adminRoutes, {
      prefix: '/api/v1/admin',
      services,
      authorize: requireAdminToken(services.config.ADMIN_TOKEN),
    });
    await app.register(consoleRoutes, { services, adminToken: services.config.ADMIN_TOKEN });
  }
  // With METRICS_PORT set, the public port never serves /metrics.
  if (!services.config.METRICS_PORT) addMetricsRoute(app, services.metrics, services.config);
  return app;
}

/**
 * Times every answer under its route's pattern, never its path (which holds ids and addresses): the
 * labels are the routes, `unmatched` for the rest, the methods Node's parser accepts, and five classes.
 */
function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpSeconds.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_class: `${Math.floor(reply.statusCode / 100)}xx`,
      },
      reply.elapsedTime / 1000,
    );
  });
}

/**
 * /metrics, for whoever may read it. Its counters move only for real accounts (codes issued), so
 * outside development it is the operator's: the admin token, on either listener; with no ADMIN_TOKEN
 * there is none (production refuses METRICS_PORT without one: config.ts).
 */
function addMetricsRoute(app: FastifyInstance, metrics: Metrics, config: Config): void {
  if (config.isDevelopment) {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => sendMetrics(metrics, reply));
  } else if (config.ADMIN_TOKEN) {
    app.get(
      '/metrics',
      { schema: { hide: true }, onRequest: requireAdminToken(config.ADMIN_TOKEN) },
      async (_request, reply) => sendMetrics(metrics, reply),
    );
  }
}

const sendMetrics = async (metrics: Metrics, reply: FastifyReply) =>
  reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());

/**
 * The listener of METRICS_PORT: /metrics alone, for a scraper on the inside network (serve binds it
 * to METRICS_HOST, loopback unless set), with the same token rule as the public port.
 */
export async function buildMetricsApp(metrics: Metrics, logger: Logger, config: Config): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, disableRequestLogging: true });
  installErrorHandling(app);
  addMetricsRoute(app, metrics, config);
  return app;
}
