/**
 * The container files, checked without a Docker engine: docker-compose.yml parses and names what the
 * README says, the Dockerfile has its stages and safety lines, and .env.example lists every variable
 * with values the service accepts and placeholders doctor reports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, envSchema, loadConfig } from '../src/config/settings.ts';
import { createSmtpChannel } from '../src/delivery/channels/smtp.ts';
import { isPlaceholder } from '../src/config/placeholders.ts';
import { checkConfig, checkSecrets } from '../src/cli/doctor/config.ts';
import { checkSms } from '../src/cli/doctor/sms.ts';
import { checkSmtp } from '../src/cli/doctor/smtp.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The variable names of src/config/settings.ts's schema. */
function schemaKeys(): string[] {
  const keys = Object.keys(envSchema.properties);
  assert.ok(
    keys.length > 30 && keys.includes('APP_ENV') && keys.includes('SMTP_SERVER'),
    `read the schema: ${keys.join(', ')}`,
  );
  return keys;
}

/** Variables read by the panic-api command rather than by the service's schema. */
const CLIENT_KEYS = ['API_BASE_URL', 'PANIC_API_SESSION_FILE'];

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml')) as {
    services: Record<
      string,
      {
        container_name?: string;
        image?: string;
        build?: unknown;
        ports?: string[];
        environment?: Record<string, string>;
        depends_on?: Record<string, { condition: string }>;
        healthcheck?: unknown;
      }
    >;
  };
  const api = compose.services['panic-system-api'];

  it('has the API as panic-system-api on port 8000, with PostgreSQL, Redis and Mailpit', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['mailpit', 'panic-system-api', 'postgres', 'redis']);
    assert.equal(api.container_name, 'panic-system-api');
    assert.equal(api.build, '.');
    assert.ok(api.ports?.includes('8000:8000'), `ports: ${api.ports}`);
    assert.match(compose.services.postgres.image ?? '', /^postgres:16/);
    assert.match(compose.services.redis.image ?? '', /^redis:7/);
    assert.match(compose.services.mailpit.image ?? '', /^axllent\/mailpit/);
    assert.ok(
      compose.services.mailpit.ports?.some((p) => p.startsWith('8025:8025')),
      'Mailpit web page published on 8025',
    );
    for (const dep of ['postgres', 'redis', 'mailpit']) {
      assert.equal(api.depends_on?.[dep]?.condition, 'service_healthy', `waits for ${dep}`);
      assert.ok(compose.services[dep].healthcheck, `${dep} has a healthcheck`);
    }
  });

  it("wires the API's database, Redis and SMTP to the other services", () => {
    const env = api.environment ?? {};
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'SMTP_SERVER', 'SMTP_PORT'])
      assert.ok(env[name], `${name} is set`);
    assert.match(env.DATABASE_URL, /^postgres:\/\/[^@]+@postgres:5432\//);
    assert.equal(env.REDIS_URL, 'redis://redis:6379');
    assert.equal(env.SMTP_SERVER, 'mailpit');
    assert.equal(String(env.SMTP_PORT), '1025');
    assert.match(env.APP_ENV, /development/);
    const mailpit = compose.services.mailpit.environment ?? {};
    assert.equal(String(mailpit.MP_SMTP_AUTH_ACCEPT_ANY), '1');
    assert.equal(String(mailpit.MP_SMTP_AUTH_ALLOW_INSECURE), '1');
  });

  it('gives an environment the service accepts, with SMTP counted as configured (not placeholders)', () => {
    // Compose substitutes ${APP_ENV:-development}; unset here, so the default.
    const env = Object.fromEntries(
      Object.entries(api.environment ?? {}).map(([k, v]) => [
        k,
        String(v).replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name, def) => def),
      ]),
    );
    const config = loadConfig(env);
    assert.equal(config.APP_ENV, 'development');
    assert.equal(config.SMTP_PORT, 1025);
    const smtp = createSmtpChannel(config).status();
    assert.equal(smtp.configured, true, smtp.problem);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile.split('\n').map((l) => l.trim());

  it('builds in stages on node:24-bookworm-slim (Node 24 LTS) with the commands CI runs', () => {
    const froms = lines.filter((l) => /^FROM\s/i.test(l));
    assert.ok(froms.length >= 2, 'several FROM stages');
    for (const from of froms) assert.match(from, /^FROM node:24-bookworm-slim AS \w+$/);
    assert.match(dockerfile, /RUN npm ci\b/);
    assert.match(dockerfile, /RUN npm run typecheck/);
    assert.match(dockerfile, /npm run build/);
    assert.match(dockerfile, /npm ci --omit=dev/);
  });

  it('ships the compiled dist/ and the production node_modules, never the TypeScript sources', () => {
    const copies = lines.filter((l) => /^COPY --from=/i.test(l));
    assert.ok(copies.includes('COPY --from=build /app/dist ./dist'), copies.join('\n'));
    assert.ok(copies.includes('COPY --from=deps /app/node_modules ./node_modules'), copies.join('\n'));
    assert.ok(!copies.some((l) => /\/app\/(src|test|bench)\b/.test(l)), `no sources copied: ${copies.join('\n')}`);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; engines: { node: string } };
    assert.equal(pkg.dependencies.tsx, undefined, 'tsx is a development dependency only');
    assert.equal(pkg.engines.node, '>=22');
  });

  it('runs as a user without privileges, exposes 8000 and checks /health', () => {
    const users = lines.filter((l) => /^USER\s/i.test(l));
    assert.ok(users.length >= 1, 'a USER line');
    assert.doesNotMatch(users.at(-1)!, /^USER\s+(root|0)(:|$)/i);
    assert.ok(lines.includes('EXPOSE 8000'));
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*\/health/);
    assert.doesNotMatch(dockerfile, /HEALTHCHECK[^\n]*curl/, 'slim images have no curl');
    assert.match(dockerfile, /ENV [^\n]*APP_ENV=production/);
    assert.match(dockerfile, /ENV [^\n]*PORT=8000/);
    assert.match(dockerfile, /ENV [^\n]*DATA_DIR=\/data/);
    assert.ok(lines.includes('VOLUME /data'));
    assert.ok(lines.includes('CMD ["node", "bin/panic-api.js", "serve"]'));
  });

  it('.dockerignore keeps node_modules, local data, a local dist/ and .env out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'data', 'dist', '.env', '.git']) assert.ok(ignored.includes(entry), entry);
    assert.ok(ignored.includes('!.env.example'));
  });
});

describe('.env.example', () => {
  const text = read('.env.example');
  const example = parseEnv(text);

  it('lists every variable of the configuration and of the command, each with a comment line above it', () => {
    const expected = [...schemaKeys(), ...CLIENT_KEYS];
    const missing = expected.filter((k) => !(k in example));
    assert.deepEqual(missing, [], 'every variable is in .env.example');
    const unknown = Object.keys(example).filter((k) => !expected.includes(k));
    assert.deepEqual(unknown, [], 'no variable the code does not read');
    assert.ok('ADMIN_TOKEN' in example);
    const lines = text.split('\n');
    for (const key of Object.keys(example)) {
      const at = lines.findIndex((l) => l.startsWith(`${key}=`));
      assert.match(lines[at - 1] ?? '', /^# \S/, `${key} has a one-line comment above it`);
    }
  });

  it('is accepted by loadConfig in development', () => {
    const config = loadConfig({ ...example, APP_ENV: 'development' });
    assert.equal(config.APP_ENV, 'development');
    assert.equal(config.PORT, 8000);
    assert.equal(config.DATABASE_URL, undefined, 'the embedded database by default');
    assert.equal(config.ADMIN_TOKEN, undefined, 'admin endpoints off until a real token is set');
  });

  it('has placeholders for secrets and credentials that production refuses and doctor reports', async () => {
    for (const key of [
      'JWT_SECRET',
      'OTP_SECRET',
      'SMTP_SERVER',
      'SMTP_USERNAME',
      'SMTP_PASSWORD',
      'FROM_EMAIL',
      'SMS_API_URL',
      'SMS_API_KEY',
      'SMS_ACCOUNT_SID',
      'SMS_FROM',
    ]) {
      assert.ok(isPlaceholder(example[key]), `${key}=${example[key]} counts as a placeholder`);
    }
    const production = { ...example, APP_ENV: 'production' };
    assert.throws(() => loadConfig(production), ConfigError, 'production does not start on the placeholders');

    const { config } = checkConfig(production);
    assert.ok(config, 'doctor still reads the rest of the settings');
    const secrets = checkSecrets(production, config);
    assert.equal(secrets.status, 'fail');
    assert.match(secrets.finding, /JWT_SECRET is a placeholder value/);
    assert.match(secrets.finding, /OTP_SECRET is a placeholder value/);

    const smtp = await checkSmtp(config);
    assert.equal(smtp.status, 'fail');
    assert.match(
      smtp.finding,
      /SMTP credentials are placeholder values \(SMTP_SERVER, SMTP_USERNAME, SMTP_PASSWORD, FROM_EMAIL\)/,
    );
    const sms = await checkSms(config);
    assert.equal(sms.status, 'fail');
    assert.match(
      sms.finding,
      /SMS credentials are placeholder values \(SMS_API_URL, SMS_ACCOUNT_SID, SMS_API_KEY, SMS_FROM\)/,
    );
  });
});

describe('README', () => {
  const readme = read('README.md');

  it('names the container, the services, the ports and the client walk-through', () => {
    for (const words of [
      'docker compose up',
      'panic-system-api',
      'Mailpit',
      '8025',
      '.env.example',
      'panic-api register',
      'panic-api verify-phone-otp',
    ]) {
      assert.ok(readme.includes(words), `README mentions ${words}`);
    }
  });
});
