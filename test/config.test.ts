/**
 * Configuration: the defaults DESIGN.md promises, loud and named refusals of bad values (also from the
 * real `panic-api serve` command), production's secret rules, and placeholder detection.
 */
import { runCli } from './support/cli.ts';
import { startStack } from './support/stack.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../src/config/settings.ts';
import { DEV_JWT_SECRET, DEV_OTP_SECRET } from '../src/config/secrets.ts';
import { isPlaceholder, settingState } from '../src/config/placeholders.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET_A = 'a'.repeat(16) + '0123456789abcdef'; // 32 characters
const SECRET_B = 'b'.repeat(16) + 'fedcba9876543210';

/** Asserts `fn` throws a ConfigError whose message names `variable`; returns the message. */
function refuses(fn: () => unknown, variable: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected a ConfigError naming ${variable}, nothing was thrown`);
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.match(caught.message, new RegExp(`\\b${variable}\\b`), `the message names ${variable}: ${caught.message}`);
  return caught.message;
}

describe('loadConfig: defaults (DESIGN.md)', () => {
  const config = loadConfig({});

  for (const [name, expected] of [
    ['OTP_LENGTH', 6],
    ['OTP_TTL_SECONDS', 600],
    ['OTP_MAX_ATTEMPTS', 5],
    ['OTP_RESEND_COOLDOWN_SECONDS', 60],
    ['OTP_MAX_SENDS_PER_HOUR', 5],
    ['RATE_LIMIT_IP_PER_MINUTE', 60],
    ['PORT', 8000],
    ['DEFAULT_PHONE_REGION', 'ZA'],
    ['DELIVERY_RETRY_BASE_SECONDS', 5],
    ['DELIVERY_MAX_ATTEMPTS', 8],
    ['DELIVERY_LEASE_SECONDS', 60],
    ['ACCESS_TOKEN_TTL_SECONDS', 900],
    ['LOGIN_MAX_FAILURES', 5],
    ['APP_ENV', 'development'],
    ['DATA_DIR', './data'],
    ['SMTP_TLS_REJECT_UNAUTHORIZED', true],
  ] as const) {
    it(`${name} defaults to ${JSON.stringify(expected)}`, () => {
      assert.strictEqual((config as unknown as Record<string, unknown>)[name], expected);
    });
  }

  it('with nothing set: development, embedded database, no providers, development secrets', () => {
    assert.equal(config.isDevelopment, true);
    assert.equal(config.DATABASE_URL, undefined);
    assert.equal(config.REDIS_URL, undefined);
    assert.equal(config.SMS_PROVIDER, undefined);
    assert.equal(config.SMTP_SERVER, undefined);
    assert.equal(config.JWT_SECRET, DEV_JWT_SECRET);
    assert.equal(config.OTP_SECRET, DEV_OTP_SECRET);
    assert.deepEqual([...config.defaultedSecrets].sort(), ['JWT_SECRET', 'OTP_SECRET']);
  });

  it('reads numbers from their text, and trims text settings', () => {
    const c = loadConfig({
      OTP_LENGTH: '8',
      PORT: '3000',
      DELIVERY_RETRY_BASE_SECONDS: '0.5',
      SMTP_SERVER: '  smtp.mailhost.co.za ',
      DEFAULT_PHONE_REGION: 'gb',
    });
    assert.strictEqual(c.OTP_LENGTH, 8);
    assert.strictEqual(c.PORT, 3000);
    assert.strictEqual(c.DELIVERY_RETRY_BASE_SECONDS, 0.5);
    assert.equal(c.SMTP_SERVER, 'smtp.mailhost.co.za');
    assert.equal(c.DEFAULT_PHONE_REGION, 'GB');
  });

  // `PORT=` in an env file, or `PORT: ${PORT}` in a compose file with PORT unset, is "not set":
  // it must not become 0 (a random port, no resend cooldown, no retry backoff).
  for (const [name, expected] of [
    ['PORT', 8000],
    ['OTP_LENGTH', 6],
    ['OTP_RESEND_COOLDOWN_SECONDS', 60],
    ['OTP_TTL_SECONDS', 600],
    ['OTP_MAX_SENDS_PER_HOUR', 5],
    ['RATE_LIMIT_IP_PER_MINUTE', 60],
    ['DELIVERY_RETRY_BASE_SECONDS', 5],
  ] as const) {
    it(`an empty ${name} means its default (${expected}), not 0`, () => {
      for (const blank of ['', '   ']) {
        const c = loadConfig({ [name]: blank }) as unknown as Record<string, unknown>;
        assert.strictEqual(c[name], expected, `${name}=${JSON.stringify(blank)}`);
      }
    });
  }

  it('an empty text setting counts as not set', () => {
    const c = loadConfig({ SMTP_SERVER: '', SMS_PROVIDER: '', DATABASE_URL: '  ', JWT_SECRET: '' });
    assert.equal(c.SMTP_SERVER, undefined);
    assert.equal(c.SMS_PROVIDER, undefined);
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.JWT_SECRET, DEV_JWT_SECRET);
  });
});

describe('loadConfig: a bad value is a ConfigError naming the variable', () => {
  for (const [name, value] of [
    ['OTP_LENGTH', 'abc'],
    ['OTP_LENGTH', '6.5'],
    ['OTP_LENGTH', '2'],
    ['OTP_LENGTH', '64'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', 'eighty'],
    ['OTP_TTL_SECONDS', '0'],
    ['OTP_MAX_ATTEMPTS', '0'],
    ['RATE_LIMIT_IP_PER_MINUTE', '-5'],
    ['DELIVERY_MAX_ATTEMPTS', '0'],
    ['DELIVERY_RETRY_BASE_SECONDS', '-1'],
    ['SMS_PROVIDER', 'carrier-pigeon'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'sqlite:///tmp/db.sqlite'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['APP_ENV', 'staging'],
    ['LOG_LEVEL', 'loud'],
    ['SMTP_TLS_REJECT_UNAUTHORIZED', 'maybe'],
    ['DEFAULT_PHONE_REGION', 'ZAF'],
    ['DELIVERY_WORKER', 'sometimes'],
    ['DNS_SERVERS', 'dns.example.net'],
    ['DNS_SERVERS', '1.1.1.1:0'],
    ['DNS_SERVERS', '1.1.1.1,'],
    ['DNS_SERVERS', '[::1]:70000'],
    ['DKIM_SELECTOR', 's1 key'],
    ['DKIM_SELECTOR', 's1._domainkey.'],
  ] as const) {
    it(`${name}=${value}`, () => {
      refuses(() => loadConfig({ [name]: value }), name);
    });
  }

  it('names every bad variable at once, not only the first', () => {
    const message = refuses(
      () => loadConfig({ OTP_LENGTH: 'abc', PORT: '70000', SMS_PROVIDER: 'carrier-pigeon', DATABASE_URL: 'mysql://x' }),
      'OTP_LENGTH',
    );
    for (const name of ['PORT', 'SMS_PROVIDER', 'DATABASE_URL']) assert.match(message, new RegExp(`\\b${name}\\b`));
  });

  it('accepts the good neighbours of those values', () => {
    const c = loadConfig({
      OTP_LENGTH: '4',
      PORT: '65535',
      SMS_PROVIDER: 'http',
      DATABASE_URL: 'postgresql://u@h/db',
      REDIS_URL: 'rediss://h:6380',
    });
    assert.equal(c.OTP_LENGTH, 4);
    assert.equal(c.PORT, 65535);
    assert.equal(c.SMS_PROVIDER, 'http');
    assert.equal(c.DATABASE_URL, 'postgresql://u@h/db');
  });

  it('accepts DNS_SERVERS as IP addresses with optional ports, and a dotted DKIM_SELECTOR', () => {
    const c = loadConfig({ DNS_SERVERS: '1.1.1.1, 127.0.0.1:5353,[2606:4700::1111]:53,::1', DKIM_SELECTOR: 'k1.mail' });
    assert.equal(c.DNS_SERVERS, '1.1.1.1, 127.0.0.1:5353,[2606:4700::1111]:53,::1');
    assert.equal(c.DKIM_SELECTOR, 'k1.mail');
  });
});

describe('loadConfig: secrets by APP_ENV', () => {
  it('production without JWT_SECRET is refused, naming JWT_SECRET', () => {
    refuses(() => loadConfig({ APP_ENV: 'production', OTP_SECRET: SECRET_B }), 'JWT_SECRET');
    refuses(() => loadConfig({ APP_ENV: 'production' }), 'JWT_SECRET');
  });

  it('production without OTP_SECRET is refused, naming OTP_SECRET', () => {
    refuses(() => loadConfig({ APP_ENV: 'production', JWT_SECRET: SECRET_A }), 'OTP_SECRET');
  });

  it('production with a secret shorter than 32 characters is refused, naming it', () => {
    refuses(
      () => loadConfig({ APP_ENV: 'production', JWT_SECRET: SECRET_A.slice(1), OTP_SECRET: SECRET_B }),
      'JWT_SECRET',
    );
    refuses(
      () => loadConfig({ APP_ENV: 'production', JWT_SECRET: SECRET_A, OTP_SECRET: SECRET_B.slice(1) }),
      'OTP_SECRET',
    );
    refuses(() => loadConfig({ APP_ENV: 'production', JWT_SECRET: '   ', OTP_SECRET: SECRET_B }), 'JWT_SECRET');
  });

  it('production with the development secrets is refused', () => {
    refuses(
      () => loadConfig({ APP_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET, OTP_SECRET: SECRET_B }),
      'JWT_SECRET',
    );
    refuses(
      () => loadConfig({ APP_ENV: 'production', JWT_SECRET: SECRET_A, OTP_SECRET: DEV_OTP_SECRET }),
      'OTP_SECRET',
    );
  });

  it('production with two secrets of 32 characters starts, as production', () => {
    const c = loadConfig({ APP_ENV: 'production', JWT_SECRET: SECRET_A, OTP_SECRET: SECRET_B });
    assert.equal(c.JWT_SECRET, SECRET_A);
    assert.equal(c.OTP_SECRET, SECRET_B);
    assert.equal(c.isDevelopment, false);
    assert.deepEqual(c.defaultedSecrets, []);
  });

  // Issue 18 item 7: production started with ADMIN_TOKEN=admin, one-letter webhook secrets, and JWT_SECRET equal to OTP_SECRET.
  const SECRET_C = 'c'.repeat(16) + '0123456789abcdef';
  const SECRET_D = 'd'.repeat(16) + '0123456789abcdef';
  const SECRET_E = 'e'.repeat(16) + '0123456789abcdef';
  const strong = { APP_ENV: 'production', JWT_SECRET: SECRET_A, OTP_SECRET: SECRET_B };
  const weak: Array<[string, Record<string, string>, string[]]> = [
    ['ADMIN_TOKEN=admin', { ADMIN_TOKEN: 'admin' }, ['ADMIN_TOKEN']],
    ['ADMIN_TOKEN of 31 characters', { ADMIN_TOKEN: SECRET_C.slice(1) }, ['ADMIN_TOKEN']],
    ['ADMIN_TOKEN a placeholder', { ADMIN_TOKEN: 'your-admin-token-from-openssl-rand-hex-32' }, ['ADMIN_TOKEN']],
    ['SMS_WEBHOOK_SECRET=x', { SMS_WEBHOOK_SECRET: 'x' }, ['SMS_WEBHOOK_SECRET']],
    ['EMAIL_WEBHOOK_SECRET=y', { EMAIL_WEBHOOK_SECRET: 'y' }, ['EMAIL_WEBHOOK_SECRET']],
    ['JWT_SECRET equal to OTP_SECRET', { OTP_SECRET: SECRET_A }, ['JWT_SECRET', 'OTP_SECRET']],
    ['ADMIN_TOKEN equal to JWT_SECRET', { ADMIN_TOKEN: SECRET_A }, ['ADMIN_TOKEN', 'JWT_SECRET']],
    [
      'SMS_WEBHOOK_SECRET equal to EMAIL_WEBHOOK_SECRET',
      { SMS_WEBHOOK_SECRET: SECRET_C, EMAIL_WEBHOOK_SECRET: SECRET_C },
      ['SMS_WEBHOOK_SECRET', 'EMAIL_WEBHOOK_SECRET'],
    ],
    [
      'EMAIL_WEBHOOK_SECRET equal to OTP_SECRET, apart from spaces',
      { EMAIL_WEBHOOK_SECRET: ` ${SECRET_B} ` },
      ['EMAIL_WEBHOOK_SECRET', 'OTP_SECRET'],
    ],
    [
      'DEV_INBOX_TOKEN equal to ADMIN_TOKEN',
      { ADMIN_TOKEN: SECRET_C, DEV_INBOX_TOKEN: SECRET_C },
      ['ADMIN_TOKEN', 'DEV_INBOX_TOKEN'],
    ],
  ];

  it(`production refuses a weak or repeated ADMIN_TOKEN, webhook secret or signing secret: ${weak.length} of ${weak.length} weak configurations refused, each naming its variables`, () => {
    const started: string[] = [];
    for (const [what, env, names] of weak) {
      let message: string | undefined;
      try {
        loadConfig({ ...strong, ...env });
        started.push(what);
        continue;
      } catch (err) {
        assert.ok(err instanceof ConfigError, `${what}: ${String(err)}`);
        message = err.message;
      }
      for (const name of names) assert.match(message, new RegExp(`\\b${name}\\b`), `${what}: ${message}`);
      assert.match(message, /32 characters/, `${what}: says what a good value is`);
      for (const value of Object.values(env).filter((v) => v.trim().length >= 8))
        assert.ok(!message.includes(value.trim()), `${what}: the message does not repeat the secret`);
    }
    assert.deepEqual(started, [], 'weak configurations that started');
  });

  it('production names every weak secret at once', () => {
    const message = refuses(
      () => loadConfig({ ...strong, ADMIN_TOKEN: 'admin', SMS_WEBHOOK_SECRET: 'x', EMAIL_WEBHOOK_SECRET: 'x' }),
      'ADMIN_TOKEN',
    );
    assert.match(
      message,
      /ADMIN_TOKEN is shorter than 32 characters; SMS_WEBHOOK_SECRET is shorter than 32 characters; EMAIL_WEBHOOK_SECRET is shorter than 32 characters; SMS_WEBHOOK_SECRET and EMAIL_WEBHOOK_SECRET are the same value/,
    );
  });

  it('production starts with every secret set, strong and different, or with the optional ones unset', () => {
    const all = {
      ...strong,
      ADMIN_TOKEN: SECRET_C,
      SMS_WEBHOOK_SECRET: SECRET_D,
      EMAIL_WEBHOOK_SECRET: SECRET_E,
      DEV_INBOX_TOKEN: 'f'.repeat(40),
    };
    assert.equal(loadConfig(all).ADMIN_TOKEN, SECRET_C);
    assert.equal(loadConfig({ ...strong, ADMIN_TOKEN: '', SMS_WEBHOOK_SECRET: '  ' }).ADMIN_TOKEN, undefined);
  });

  it('test and development keep accepting short and repeated secrets (tests, workstations)', () => {
    for (const APP_ENV of ['test', 'development']) {
      const c = loadConfig({
        APP_ENV,
        ADMIN_TOKEN: 'admin',
        SMS_WEBHOOK_SECRET: 'x',
        EMAIL_WEBHOOK_SECRET: 'x',
        JWT_SECRET: SECRET_A,
        OTP_SECRET: SECRET_A,
      });
      assert.equal(c.ADMIN_TOKEN, 'admin');
    }
  });

  it('test accepts the development defaults, and is not development', () => {
    const c = loadConfig({ APP_ENV: 'test' });
    assert.equal(c.JWT_SECRET, DEV_JWT_SECRET);
    assert.equal(c.OTP_SECRET, DEV_OTP_SECRET);
    assert.equal(c.isDevelopment, false);
    assert.deepEqual([...c.defaultedSecrets].sort(), ['JWT_SECRET', 'OTP_SECRET']);
    const explicit = loadConfig({ APP_ENV: 'test', JWT_SECRET: DEV_JWT_SECRET, OTP_SECRET: 'short' });
    assert.equal(explicit.OTP_SECRET, 'short');
  });
});

describe('loadConfig: the metrics listener (METRICS_PORT, METRICS_HOST)', () => {
  const strong = { APP_ENV: 'production', JWT_SECRET: SECRET_A, OTP_SECRET: SECRET_B };

  it('METRICS_HOST defaults to loopback in every environment (its counters say which addresses have accounts); set, it wins', () => {
    for (const APP_ENV of ['development', 'test', 'production']) {
      assert.equal(
        loadConfig({ ...strong, APP_ENV, METRICS_PORT: '9464', ADMIN_TOKEN: 'c'.repeat(40) }).METRICS_HOST,
        '127.0.0.1',
        APP_ENV,
      );
    }
    assert.equal(loadConfig({ METRICS_HOST: '0.0.0.0' }).METRICS_HOST, '0.0.0.0');
    assert.equal(loadConfig({ METRICS_HOST: '' }).METRICS_HOST, '127.0.0.1');
  });

  it('production with METRICS_PORT and no ADMIN_TOKEN is refused, naming both (the listener would have nothing to check)', () => {
    const message = refuses(() => loadConfig({ ...strong, METRICS_PORT: '9464' }), 'METRICS_PORT');
    assert.match(message, /\bADMIN_TOKEN\b/);
    assert.equal(loadConfig({ ...strong, METRICS_PORT: '9464', ADMIN_TOKEN: 'c'.repeat(40) }).METRICS_PORT, 9464);
    assert.equal(
      loadConfig({ APP_ENV: 'test', METRICS_PORT: '9464' }).METRICS_PORT,
      9464,
      'test starts: its listener serves nothing without a token',
    );
  });
});

// ------------------------------------------------------------------------------------------ the command

describe('the real command refuses a bad configuration', () => {
  const STACK_FRAME = /^\s+at .*(\(|\s)\S+:\d+:\d+\)?$/m;

  it('`panic-api serve` with APP_ENV=production and no secrets exits non-zero naming JWT_SECRET, without a stack trace', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'panic-config-'));
    try {
      const { code, stdout, stderr } = await runCli(['serve'], { APP_ENV: 'production', DATA_DIR: dataDir, PORT: '0' });
      assert.notEqual(code, null, 'it exited by itself (it did not start serving)');
      assert.notEqual(code, 0, `exit code ${code}`);
      assert.match(stderr, /\bJWT_SECRET\b/, stderr);
      assert.match(stderr, /32 characters/, 'it says what a good value is');
      assert.doesNotMatch(stderr, STACK_FRAME, `no stack trace:\n${stderr}`);
      assert.doesNotMatch(stdout + stderr, /ConfigError|node:internal/, 'no internals');
      assert.ok(stderr.trim().split('\n').length <= 5, `a few lines, not a dump:\n${stderr}`);
      assert.doesNotMatch(stdout, /listening/i);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('`panic-api serve` with PORT=70000 exits non-zero naming PORT, without a stack trace', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'panic-config-'));
    try {
      const { code, stderr } = await runCli(['serve'], { APP_ENV: 'test', PORT: '70000', DATA_DIR: dataDir });
      assert.notEqual(code, null);
      assert.notEqual(code, 0);
      assert.match(stderr, /\bPORT\b/, stderr);
      assert.doesNotMatch(stderr, STACK_FRAME, `no stack trace:\n${stderr}`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------------------ placeholders

describe('placeholder detection', () => {
  const TWILIO = 'https://api.twilio.com/2010-04-01/Accounts';
  for (const value of [
    'your-email@gmail.com',
    'your_smtp_password',
    'YOUR-API-KEY',
    `${TWILIO}/YOUR_ACCOUNT_SID/Messages.json`,
    'YOUR_ACCOUNT_SID',
    'your_account_sid',
    'changeme',
    'CHANGEME',
    'change-me',
    'smtp.example.com',
    'no-reply@example.org',
    'example',
    '<your token here>',
    'xxxxxxxx',
    'placeholder',
    '',
    '   ',
  ]) {
    it(`${JSON.stringify(value)} is a placeholder`, () => {
      assert.equal(isPlaceholder(value), true);
      assert.notEqual(settingState(value), 'set');
    });
  }

  it('unset and empty are "missing"; a copied example value is "placeholder"', () => {
    assert.equal(isPlaceholder(undefined), true);
    assert.equal(settingState(undefined), 'missing');
    assert.equal(settingState(''), 'missing');
    assert.equal(settingState('  '), 'missing');
    assert.equal(settingState('your-email@gmail.com'), 'placeholder');
    assert.equal(settingState(`${TWILIO}/YOUR_ACCOUNT_SID/Messages.json`), 'placeholder');
    assert.equal(settingState('changeme'), 'placeholder');
    assert.equal(settingState('smtp.example.com'), 'placeholder');
  });

  for (const value of [
    'smtp.gmail.com',
    'mail.panic.co.za',
    'thandi.mokoena@gmail.com',
    'yourbank-alerts@bank.co.za',
    'AC0123456789abcdef0123456789abcdef',
    `${TWILIO}/AC0123456789abcdef0123456789abcdef/Messages.json`,
    'https://sms.gateway.co.za/v1/send',
    'k9V$2mQ!x7Lr#4pZ',
    '587',
    '+15005550006',
    'Panic System <no-reply@panic.co.za>',
  ]) {
    it(`${JSON.stringify(value)} is set (not a placeholder)`, () => {
      assert.equal(isPlaceholder(value), false);
      assert.equal(settingState(value), 'set');
    });
  }
});

describe('REQUEST_TIMEOUT_SECONDS across its whole range', () => {
  it('600 (its highest) starts the service, and Node holds both timeouts at 600 s (above 300 it used to refuse to start)', async () => {
    const stack = await startStack({ env: { REQUEST_TIMEOUT_SECONDS: '600' } });
    try {
      assert.equal(stack.runtime.app.server.requestTimeout, 600_000);
      assert.equal(stack.runtime.app.server.headersTimeout, 600_000);
      assert.equal((await fetch(`${stack.baseUrl}/health`)).status, 200);
    } finally {
      await stack.close();
    }
  });
});
