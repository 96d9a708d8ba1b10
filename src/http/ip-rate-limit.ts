import type { FastifyInstance } from 'fastify';
import type { LimiterFactory } from '../platform/rate-limit.ts';
import { clientBucket } from '../shared/trust-proxy.ts';

/** How a route counts against a client's per-IP budgets; set in a route's `config.limit`. */
export interface RouteLimit {
  /** The budget it shares; an alias names its route's family; null: none (liveness, signed webhooks). Default: /api/v1/<family>/… */
  family?: string | null;
  /** Also spends the stricter budget of the routes that hash passwords or send codes. */
  expensive?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    limit?: RouteLimit;
  }
}

/**
 * The budget a request spends, from the route the router matched (never the URL as written, which
 * percent-encoding or an absolute request line respells): null for the routes that opt out,
 * 'unmatched' for anything no route took.
 */
export function budgetOf(routeUrl: string | undefined, limit: RouteLimit | undefined): string | null {
  if (routeUrl === undefined) return 'unmatched';
  if (limit?.family === null) return null;
  return limit?.family ?? routeUrl.match(/^\/api\/v1\/([a-z-]+)/)?.[1] ?? 'site';
}

const SLOW_DOWN = 'Too many requests from your address. Slow down and retry after the time given.';

export function installIpRateLimit(
  app: FastifyInstance,
  limits: { perMinute: number; expensivePerMinute: number },
  makeLimiter: LimiterFactory,
): void {
  const general = makeLimiter({ keyPrefix: 'ip', points: limits.perMinute, durationSeconds: 60 });
  const expensive = makeLimiter({ keyPrefix: 'ip-expensive', points: limits.expensivePerMinute, durationSeconds: 60 });
  app.addHook('onRequest', async (request) => {
    const { url, config } = request.routeOptions;
    const budget = budgetOf(url, config?.limit);
    if (budget === null) return;
    const client = clientBucket(request.ip, request.socket.remoteAddress);
    await general.consume(`${budget}:${client}`, SLOW_DOWN);
    if (config?.limit?.expensive) await expensive.consume(client, SLOW_DOWN);
  });
}
