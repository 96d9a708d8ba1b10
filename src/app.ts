import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
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
import type { Channels } from './delivery/channels/index.ts';

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
    trustProxy: ctx.config.TRUST_PROXY,
    bodyLimit: 64 * 1024,
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

  installIpRateLimit(app, ctx.config.RATE_LIMIT_IP_PER_MINUTE, deps.makeLimiter);
  await app.register(healthRoutes, { db: ctx.db });
  await app.register(authRoutes, { prefix: '/api/v1/auth', ctx });
  await app.register(userRoutes, { prefix: '/api/v1/users', ctx });
  if (ctx.config.isDevelopment) await app.register(devInboxRoutes, { ctx });
  if (ctx.config.ADMIN_TOKEN) {
    await app.register(adminRoutes, { prefix: '/api/v1/admin', ctx, channels: deps.channels, adminToken: ctx.config.ADMIN_TOKEN });
  }
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  );
  return app;
}
