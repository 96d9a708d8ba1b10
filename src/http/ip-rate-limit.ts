import type { FastifyInstance } from 'fastify';
import type { LimiterFactory } from '../rate-limit.ts';

/** Route families share one per-IP budget: /api/v1/auth/*, /api/v1/users/*, … */
export function familyOf(url: string): string | undefined {
  return url.match(/^\/api\/v1\/([a-z-]+)/)?.[1];
}

export function installIpRateLimit(app: FastifyInstance, perMinute: number, makeLimiter: LimiterFactory): void {
  const limiter = makeLimiter({ keyPrefix: 'ip', points: perMinute, durationSeconds: 60 });
  app.addHook('onRequest', async (request) => {
    const family = familyOf(request.url);
    if (!family) return;
    await limiter.consume(`${family}:${request.ip}`, 'Too many requests from your address. Slow down and retry after the time given.');
  });
}
