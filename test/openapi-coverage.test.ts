/**
 * "OpenAPI 3 for every route", checked against the app's own route table: every route the app serves
 * (development, with ADMIN_TOKEN, so every optional route exists) is in /openapi.json, or is one of the
 * few left out on purpose, each with its reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/settings.ts';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.ts';
import { borrowMigratedDatabase } from './support/pglite-template.ts';
import { routeTable } from './support/routes.ts';

/** Left out of the OpenAPI document on purpose (the README says the same). */
const EXCLUDED: Array<{ prefix: string; why: string }> = [
  { prefix: '/docs', why: 'the documentation page itself' },
  { prefix: '/openapi.json', why: 'the document itself' },
  { prefix: '/dev/inbox', why: 'a development tool that does not exist outside development' },
  { prefix: '/metrics', why: 'Prometheus text for scrapers, not JSON' },
  {
    prefix: '/console',
    why: "the support console: its pages, its sign-in, and its copy of the admin API (the same routes as /api/v1/admin) behind the console's session",
  },
];

describe('OpenAPI document against the route table', () => {
  let runtime: Runtime;
  let database: Awaited<ReturnType<typeof borrowMigratedDatabase>>;
  before(async () => {
    const config = loadConfig({
      APP_ENV: 'development',
      DATA_DIR: 'memory://',
      ADMIN_TOKEN: 'an-admin-token-of-at-least-32-characters',
      LOG_LEVEL: 'warn',
    });
    database = await borrowMigratedDatabase();
    runtime = await createRuntime({ config, database: database.handle });
    await runtime.app.ready();
  });
  after(async () => {
    await runtime?.close();
    await database?.giveBack();
  });

  it('documents every route the app serves, except the ones left out on purpose', async () => {
    const routes = routeTable(runtime.app, { head: true }).map((r) => `${r.method} ${r.path}`);
    const doc = (await runtime.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = (route: string) => {
      const [method, path] = route.split(' ');
      return doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()] !== undefined;
    };
    const excluded = (route: string) => EXCLUDED.some((e) => route.split(' ')[1].startsWith(e.prefix));

    const gets = routes.filter((r) => r.startsWith('GET '));
    assert.ok(
      gets.length > 5 && routes.some((r) => r.startsWith('POST ')),
      `the route table was read: ${routes.join(', ')}`,
    );
    // HEAD is Fastify's automatic twin of a GET, documented by the GET.
    for (const head of routes.filter((r) => r.startsWith('HEAD ')))
      assert.ok(routes.includes(head.replace(/^HEAD/, 'GET')), `${head} has its GET`);

    const missing = routes.filter((r) => !r.startsWith('HEAD ') && !documented(r) && !excluded(r));
    assert.deepEqual(missing, [], 'routes neither documented nor excluded on purpose');
    for (const e of EXCLUDED)
      assert.ok(
        routes.some((r) => r.split(' ')[1].startsWith(e.prefix)),
        `${e.prefix} is still a route (${e.why})`,
      );
    for (const r of routes.filter(excluded)) assert.ok(!documented(r), `${r} is excluded yet documented`);
    for (const path of Object.keys(doc.paths)) {
      for (const method of Object.keys(doc.paths[path])) {
        // OpenAPI writes a path parameter {name}, Fastify :name
        assert.ok(
          routes.includes(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
          `documented ${method.toUpperCase()} ${path} is served`,
        );
      }
    }
  });
});
