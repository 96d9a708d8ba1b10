import type { FastifyInstance } from 'fastify';

export interface Route {
  method: string;
  path: string;
}

const LINE = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([^)]*)\))?$/;

/**
 * The routes a built app serves, read from its own route table (Fastify's printRoutes tree, where a
 * node's path continues its parent's), so a list in a test cannot fall behind the app. HEAD, which
 * Fastify adds to every GET, is left out unless asked for.
 */
export function routeTable(app: FastifyInstance, { head = false } = {}): Route[] {
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    const path = (prefixes[depth - 1] ?? '') + m[2];
    prefixes[depth] = path;
    for (const method of (m[3] ?? '').split(', ').filter(Boolean))
      if (head || method !== 'HEAD') routes.push({ method, path });
  }
  return routes;
}

/** The routes of the v1 API, as "METHOD /path". */
export const apiRoutes = (app: FastifyInstance): string[] =>
  routeTable(app)
    .filter((r) => r.path.startsWith('/api/v1/'))
    .map((r) => `${r.method} ${r.path}`);
