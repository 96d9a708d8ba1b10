/**
 * Issue 23, the operator's own monitoring. The series that deploy/grafana/panic-api.json and
 * deploy/prometheus/alerts.yml read, recorded by the real service and read from its /metrics; the alert
 * rules checked and unit-tested by promtool (Debian's `prometheus` package; .ci/run installs it); and
 * every metric name (and label) the dashboard and the rules use is one the service exposes, or one of
 * the webhook outbox's, so that a renamed metric fails here rather than on an operator's screen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createMetrics } from '../src/platform/metrics.ts';
import { person, phoneCodeAsked, startStack, type Stack } from './support/stack.ts';
import { acceptedSms, postTwilioReceipt, signAsTwilio, TWILIO_STATUS_PATH } from './support/receipts.ts';
import { messageReaching } from './support/outbox-rows.ts';

const ADMIN = 'monitoring-admin-token-0123456789abcdef';
const PUBLIC_URL = 'https://panic.example.test';
const deploy = (path: string) => fileURLToPath(new URL(`../deploy/${path}`, import.meta.url));
const ALERTS = deploy('prometheus/alerts.yml');
const ALERT_TESTS = deploy('prometheus/alerts.test.yml');
const DASHBOARD = deploy('grafana/panic-api.json');

/** The metrics another engineer's webhook outbox exposes (issue 13), which the rules watch already. */
const WEBHOOK_METRICS: Record<string, string[]> = {
  panic_webhook_deliveries_total: ['endpoint', 'outcome'],
  panic_webhook_backlog: ['endpoint'],
  panic_webhook_oldest_pending_seconds: ['endpoint'],
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text, one sample a line (comments left out). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
      assert.ok(m, `a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
      );
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

/** The sum of the samples of `name` whose labels include every one of `labels`. */
const seriesValue = (text: string, name: string, labels: Record<string, string>): number =>
  samples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

/** Outside development /metrics is the operator's: the admin token. */
const scrape = async (stack: Stack): Promise<string> => {
  const res = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.status, 200);
  return res.text();
};

describe('the series of the dashboard and the alerts, recorded by the service', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { ADMIN_TOKEN: ADMIN, PUBLIC_URL } });
  });
  after(() => stack?.close());

  it('codes issued by the channel they first took; every HTTP answer by method, route pattern (never the path) and status class', async () => {
    const before = await scrape(stack);
    const reg = await stack.api('POST', '/api/v1/auth/register', person('monitoring'));
    assert.equal(reg.status, 201, reg.text);
    const id = randomUUID();
    assert.equal((await stack.api('GET', `/api/v1/admin/messages/${id}`, undefined, ADMIN)).status, 404);
    assert.equal((await stack.request('GET', '/no/such/page')).status, 404);
    const text = await scrape(stack);
    const delta = (name: string, labels: Record<string, string>) =>
      seriesValue(text, name, labels) - seriesValue(before, name, labels);

    assert.equal(delta('panic_otp_issued_total', { purpose: 'email_verification', channel: 'email' }), 1);
    const http = 'panic_http_request_duration_seconds_count';
    assert.equal(delta(http, { method: 'POST', route: '/api/v1/auth/register', status_class: '2xx' }), 1);
    assert.equal(delta(http, { method: 'GET', route: '/api/v1/admin/messages/:id', status_class: '4xx' }), 1);
    assert.equal(delta(http, { method: 'GET', route: 'unmatched', status_class: '4xx' }), 1);
    assert.equal(
      seriesValue(text, 'panic_http_request_duration_seconds_bucket', {
        route: '/api/v1/auth/register',
        status_class: '2xx',
        le: '+Inf',
      }),
      seriesValue(text, http, { route: '/api/v1/auth/register', status_class: '2xx' }),
    );
    assert.ok(!text.includes(id), 'an id in a path is never a label');
    assert.ok(!text.includes('/no/such/page'), 'nor a path no route matched');
  });

  it('failures by reason: the code a table explains (21211 refused at the attempt, 30007 by receipt), else the status class', async () => {
    const failures = 'panic_delivery_failures_total';
    const before = await scrape(stack);
    try {
      stack.sms.failWith = { status: 400, code: 21211 };
      await messageReaching(stack, (await phoneCodeAsked(stack, 'refused')).person.phone, 'failed');
      // a final 4xx whose code no table explains
      stack.sms.failWith = { status: 400, code: 21999, message: 'Something new' };
      await messageReaching(stack, (await phoneCodeAsked(stack, 'unknown')).person.phone, 'failed');
    } finally {
      stack.sms.failWith = undefined;
    }
    const { row } = await acceptedSms(stack, 'filtered');
    const fields = { MessageSid: row.provider_id!, MessageStatus: 'undelivered', ErrorCode: '30007' };
    const receipt = await postTwilioReceipt(
      stack,
      fields,
      signAsTwilio(`${PUBLIC_URL}${TWILIO_STATUS_PATH}`, fields, stack.sms.authToken),
    );
    assert.equal(receipt.status, 200, receipt.text);

    const text = await scrape(stack);
    const delta = (labels: Record<string, string>) =>
      seriesValue(text, failures, { channel: 'sms', provider: 'twilio', ...labels }) -
      seriesValue(before, failures, { channel: 'sms', provider: 'twilio', ...labels });
    assert.equal(delta({ stage: 'attempt', reason: '21211' }), 1);
    assert.equal(delta({ stage: 'attempt', reason: '4xx' }), 1);
    assert.equal(delta({ stage: 'receipt', reason: '30007' }), 1);
    assert.equal(delta({ stage: 'attempt' }), 2, 'the accepted message counts no failure');
    assert.equal(
      seriesValue(text, 'panic_otp_issued_total', { purpose: 'phone_verification', channel: 'sms' }) -
        seriesValue(before, 'panic_otp_issued_total', { purpose: 'phone_verification', channel: 'sms' }),
      3,
    );
  });

  it('a phone code verified counts, whatever its purpose, as every phone code issued counts: the verification rate compares the same codes', async () => {
    const phoneCodes = (text: string) => seriesValue(text, 'panic_phone_codes_total', { first_channel: 'sms' });
    const verified = (text: string) =>
      seriesValue(text, 'panic_phone_verified_total', { first_channel: 'sms', channel: 'sms', calling_code: '27' });
    const before = await scrape(stack);
    const { person: p, tokens } = await phoneCodeAsked(stack, 'rate');
    const phoneOtp = await stack.smsCode(p.phone);
    const phone = await stack.api('POST', '/api/v1/users/verify-otp', { otp: phoneOtp }, tokens.access_token);
    assert.equal(phone.status, 200, phone.text);
    const asked = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
      identifier: p.email,
      delivery_method: 'sms',
    });
    assert.equal(asked.status, 200, asked.text);
    const otp = await stack.smsCode(p.phone, 2);
    const unlock = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: p.email, otp });
    assert.equal(unlock.status, 200, unlock.text);
    const text = await scrape(stack);
    assert.equal(phoneCodes(text) - phoneCodes(before), 2);
    assert.equal(verified(text) - verified(before), 2, 'the phone verification and the unlock by SMS');
  });

  it("every brake's series exists before its first refusal, so that increase() sees the first", async () => {
    const brakes = samples(await scrape(stack)).filter((s) => s.name === 'panic_sms_brake_refusals_total');
    assert.deepEqual(brakes.map((s) => s.labels.part).sort(), [
      'new_network',
      'new_range',
      'proven_network',
      'voice_brake',
      'whatsapp_brake',
    ]);
  });
});

describe('the oldest queued message: how long it has been due without a worker taking it', () => {
  let stack: Stack;
  let offset = 0;
  before(async () => {
    stack = await startStack({
      env: { ADMIN_TOKEN: ADMIN },
      noWorker: true,
      clock: () => new Date(Date.now() + offset),
    });
  });
  after(() => stack?.close());

  const oldest = async (channel: string) =>
    seriesValue(await scrape(stack), 'panic_delivery_oldest_queued_seconds', { channel });

  it('0 on every channel while nothing is due; the wait of the one due once time passes; 0 again once it is sent', async () => {
    const text = await scrape(stack);
    for (const channel of ['email', 'sms', 'whatsapp', 'voice'])
      assert.match(text, new RegExp(`^panic_delivery_oldest_queued_seconds\\{channel="${channel}"\\} 0$`, 'm'));
    const p = person('stalled');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    offset += 90_000;
    const waited = await oldest('email');
    assert.ok(waited >= 90 && waited < 120, `waited ${waited} s`);
    assert.equal(await oldest('sms'), 0);
    assert.equal(await stack.runtime.worker.runOnce(), 1);
    assert.equal(await oldest('email'), 0);
  });
});

// ---------------------------------------------------------------- deploy/

const inCi = process.env.CI === 'true' || process.env.CI === '1';
const promtoolMissing = spawnSync('promtool', ['--version']).error !== undefined;
const skipWithoutPromtool = promtoolMissing && !inCi ? 'promtool is not installed (apt-get install prometheus)' : false;

function promtool(...args: string[]): string {
  if (promtoolMissing) assert.fail("promtool is missing: CI must install Debian's prometheus package (see .ci/run)");
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, output);
  return output;
}

interface AlertRule {
  alert?: string;
  expr: string;
}
interface RuleTest {
  alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] | null }>;
}

const rules = (): AlertRule[] =>
  (parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((g) => g.rules);

describe('deploy/prometheus/alerts.yml, by promtool', { skip: skipWithoutPromtool }, () => {
  it('promtool check rules: the rules are valid', () => {
    assert.match(promtool('check', 'rules', ALERTS), /SUCCESS: \d+ rules found/);
  });

  it("promtool test rules: each alert's cases in alerts.test.yml", () => {
    assert.match(promtool('test', 'rules', ALERT_TESTS), /SUCCESS/);
  });
});

/** A dashboard's queries with Grafana's variables filled in as a rules file (one recording rule each), for promtool to parse. */
function dashboardQueriesAsRules(): string {
  const exprs = (JSON.parse(readFileSync(DASHBOARD, 'utf8')).panels as Panel[]).flatMap((p) =>
    (p.targets ?? []).map((t) =>
      t.expr
        .replaceAll('$__rate_interval', '5m')
        .replaceAll('$__range', '6h')
        .replaceAll('$channel', 'sms')
        .replaceAll('$country', '27'),
    ),
  );
  const rules = exprs.map((expr, i) => ({ record: `dashboard_query_${i + 1}`, expr }));
  return stringifyYaml({ groups: [{ name: 'dashboard', rules }] });
}

describe("deploy/grafana/panic-api.json's queries, by promtool", { skip: skipWithoutPromtool }, () => {
  it('every query parses as PromQL once Grafana has filled in its variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'panic-dashboard-'));
    try {
      const file = join(dir, 'queries.yml');
      writeFileSync(file, dashboardQueriesAsRules());
      assert.match(promtool('check', 'rules', file), /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/prometheus/alerts.test.yml', () => {
  it('every alert has a case where it fires and one where it stays silent', () => {
    const cases = (parseYaml(readFileSync(ALERT_TESTS, 'utf8')) as { tests: RuleTest[] }).tests.flatMap(
      (t) => t.alert_rule_test ?? [],
    );
    const names = rules().flatMap((r) => (r.alert ? [r.alert] : []));
    assert.ok(names.length >= 7, names.join(', '));
    for (const name of names) {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name}: no case where it fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name}: no case where it stays silent`,
      );
    }
  });
});

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { type: string; uid: string } }>;
  gridPos: { x: number; y: number; w: number; h: number };
}

describe('deploy/grafana/panic-api.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const panels: Panel[] = dashboard.panels;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's placeholder, replaced by the data source picked at import
  const PROMETHEUS = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

  it('imports anywhere: its Prometheus is the DS_PROMETHEUS input, asked for at import', () => {
    assert.deepEqual(
      dashboard.__inputs.map((i: { name: string; type: string; pluginId: string }) => [i.name, i.type, i.pluginId]),
      [['DS_PROMETHEUS', 'datasource', 'prometheus']],
    );
    assert.equal(dashboard.id, null, 'no id of the instance it came from');
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      assert.deepEqual(panel.datasource, PROMETHEUS, panel.title);
      assert.ok(panel.targets?.length, `${panel.title}: no query`);
      for (const t of panel.targets) {
        assert.deepEqual(t.datasource, PROMETHEUS, panel.title);
        assert.ok(t.expr.trim(), panel.title);
      }
    }
    for (const variable of dashboard.templating.list) assert.deepEqual(variable.datasource, PROMETHEUS, variable.name);
  });

  it('rows for codes, delivery, providers and brakes, the queue and HTTP; a variable for channel and one for country', () => {
    assert.deepEqual(
      panels.filter((p) => p.type === 'row').map((p) => p.title),
      ['Codes', 'Delivery', 'Providers and brakes', 'Queue', 'HTTP'],
    );
    const variables = dashboard.templating.list.map((v: { name: string; type: string }) => `${v.name}:${v.type}`);
    assert.deepEqual(variables, ['channel:query', 'country:query']);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid's 24 columns`);
  });
});

describe('every metric the dashboard and the alerts name is one the service exposes', () => {
  /** The names /metrics shows for each metric (a histogram's _bucket, _sum and _count) and their label names. */
  const exposed = new Map<string, string[]>(Object.entries(WEBHOOK_METRICS));
  for (const metric of createMetrics(async () => 0).registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type: string }).type;
    if (type === 'histogram') {
      exposed.set(`${name}_bucket`, [...labelNames, 'le']);
      exposed.set(`${name}_sum`, labelNames);
      exposed.set(`${name}_count`, labelNames);
    } else if (type === 'summary') {
      exposed.set(name, [...labelNames, 'quantile']);
      exposed.set(`${name}_sum`, labelNames);
      exposed.set(`${name}_count`, labelNames);
    } else exposed.set(name, labelNames);
  }

  /** Every metric name in a text (ours start panic_; prom-client's process_ and nodejs_ ones get our prefix). */
  const namesIn = (text: string) => new Set(text.match(/\b(?:panic|process|nodejs)_\w+/g) ?? []);
  /** Each `name{label op "value", …}` selector's name and label names. */
  const selectorsIn = (text: string) =>
    [...text.matchAll(/\b([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)].map((m) => ({
      name: m[1],
      labels: [...m[2].matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]),
    }));

  const check = (what: string, text: string) => {
    const names = namesIn(text);
    assert.ok(names.size > 0, `${what} names no metric`);
    for (const name of names)
      assert.ok(exposed.has(name), `${what}: ${name} is not a metric of src/platform/metrics.ts`);
    for (const { name, labels } of selectorsIn(text)) {
      if (!exposed.has(name)) continue; // a label matcher in a panel's text, not a selector
      for (const label of labels)
        assert.ok(exposed.get(name)!.includes(label), `${what}: ${name} has no label ${label}`);
    }
  };

  it('deploy/prometheus/alerts.yml (its expressions and its words)', () => {
    check('alerts.yml', readFileSync(ALERTS, 'utf8'));
  });

  it('deploy/grafana/panic-api.json (its queries, variables and words)', () => {
    check('panic-api.json', readFileSync(DASHBOARD, 'utf8'));
  });

  it('a name that is not one fails the check', () => {
    assert.throws(() => check('a renamed metric', 'rate(panic_otp_issued_codes_total[5m])'), /not a metric/);
    assert.throws(() => check('a renamed label', 'panic_otp_issued_total{first_channel="sms"}'), /has no label/);
    assert.throws(() => check('an unprefixed default', 'process_resident_memory_bytes'), /not a metric/);
  });
});
