import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from './logger.ts';
import type { FlowContext } from './otp/context.ts';
import type { LimiterFactory } from './rate-limit.ts';
import { installErrorHandling } from './http/error-handler.ts';
import { installIpRateLimit } from './http/ip-rate-limit.ts';
import { installJsonBodyParser } from './http/json-body.ts';
import { authRoutes } from './http/routes/auth.ts';
import { userRoutes } from './http/routes/users.ts';
import { healthRoutes } from './http/routes/health.ts';
import { devInboxRoutes } from './http/routes/dev-inbox.ts';
import { adminRoutes } from './http/routes/admin.ts';
import { webhookRoutes } from './http/routes/webhooks.ts';
import type { Channels } from './delivery/channels/index.ts';
import type { Metrics } from './metrics.ts';
import { AppError } from './errors.ts';
import { bearerToken } from './http/auth-hook.ts';
import { sameSecret } from './http/same-secret.ts';
import { fastifyTrustProxy } from './trust-proxy.ts';

export interface AppDeps {
  ctx: FlowContext;
  logger: Logger;
  makeLimiter: LimiterFactory;
  channels: Channels;
}

/** Builds the HTTP app from its dependencies; it opens nothing itself. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { ctx, logger } = deps;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: fastifyTrustProxy(ctx.config.TRUST_PROXY),
    bodyLimit: 64 * 1024,
    // A client that trickles its request (slowloris) gets 408 and loses the connection; Node checks
    // every second, and applies requestTimeout only when headersTimeout is no longer than it.
    requestTimeout: ctx.config.REQUEST_TIMEOUT_SECONDS * 1000,
    http: { connectionsCheckingInterval: 1000, headersTimeout: ctx.config.REQUEST_TIMEOUT_SECONDS * 1000 },
    http2: false,
    // Wrong types are refused, not coerced: "12345678" and 12345678 are not the same password.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorateRequest('user', null);
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
    { perMinute: ctx.config.RATE_LIMIT_IP_PER_MINUTE, expensivePerMinute: ctx.config.RATE_LIMIT_EXPENSIVE_PER_MINUTE },
    deps.makeLimiter,
  );
  await app.register(healthRoutes, { db: ctx.db });
  await app.register(authRoutes, { prefix: '/api/v1/auth', ctx });
  await app.register(userRoutes, { prefix: '/api/v1/users', ctx });
  await app.register(webhookRoutes, { ctx, makeLimiter: deps.makeLimiter });
  if (ctx.config.isDevelopment) await app.register(devInboxRoutes, { ctx });
  if (ctx.config.ADMIN_TOKEN) {
    await app.register(adminRoutes, { prefix: '/api/v1/admin', ctx, channels: deps.channels, adminToken: ctx.config.ADMIN_TOKEN });
  }
  const metricsAccess = publicMetricsAccess(ctx.config);
  if (metricsAccess !== 'none') {
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      const token = bearerToken(request);
      if (metricsAccess === 'admin' && !(token && sameSecret(token, ctx.config.ADMIN_TOKEN!))) {
        throw new AppError('unauthorized', 'Send the admin token as "Authorization: Bearer $ADMIN_TOKEN", or scrape METRICS_PORT.');
      }
      return sendMetrics(ctx.metrics, reply);
    });
  }
  return app;
}

/**
 * Who may read /metrics on the public port. Its counters move only for real accounts (codes issued),
 * so outside development it is for the operator: a separate METRICS_PORT, or the admin token.
 */
function publicMetricsAccess(config: FlowContext['config']): 'open' | 'admin' | 'none' {
  if (config.METRICS_PORT) return 'none';
  if (config.isDevelopment) return 'open';
  return config.ADMIN_TOKEN ? 'admin' : 'none';
}

const sendMetrics = async (metrics: Metrics, reply: FastifyReply) =>
  reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());

/** The listener of METRICS_PORT: /metrics alone, for a scraper on the inside network. */
export async function buildMetricsApp(metrics: Metrics, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, disableRequestLogging: true });
  app.get('/metrics', async (_request, reply) => sendMetrics(metrics, reply));
  return app;
}
