/**
 * Issue 23 §2, the dashboard proved: the real service, with SMS, WhatsApp, receipts and a webhook
 * endpoint, takes two waves of traffic while a real Prometheus (Debian's `prometheus`) scrapes its
 * /metrics every second with the admin token; then every query of deploy/grafana/panic-api.json goes
 * to Prometheus's HTTP API as Grafana would send it with every variable at "All". Each must be
 * accepted, and each must return data but the few this traffic cannot make, which are named below
 * with the reason. test/monitoring.test.ts checks the names and the syntax; this, that the queries
 * find what the service records.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type DashboardService,
  evaluateDashboard,
  type PanelResult,
  type TargetResult,
  readDashboard,
  startDashboardService,
  targetHasData,
  trafficWave,
} from './support/dashboard.ts';
import { type Prometheus, SCRAPE_SECONDS, skipWithoutPrometheus, startPrometheus } from './support/prometheus.ts';

/** The panels this traffic leaves without data, by title, and why. */
const NO_DATA_HERE: Record<string, string> = {
  '5xx answers, by route': 'the service answered no request with a 5xx (bad input gets a 4xx, and nothing broke)',
};

/**
 * The channels and the country the traffic used, picked as an operator picks them: a query that names
 * a label its variable does not match finds nothing (at "All", `label=~".*"` matches a missing label).
 */
const PICKED = { channel: ['sms', 'whatsapp'], country: ['27'] };

describe('deploy/grafana/panic-api.json against a real Prometheus scraping the service', {
  skip: skipWithoutPrometheus,
}, () => {
  const dashboard = readDashboard();
  let service: DashboardService | undefined;
  let prometheus: Prometheus | undefined;
  /** Every panel's answers with the variables at "All", and with PICKED. */
  let atAll: PanelResult[];
  let picked: PanelResult[];

  before(async () => {
    service = await startDashboardService();
    const started = Date.now();
    prometheus = await startPrometheus(service.target);
    // The first wave while Prometheus takes its first scrape: the series exist from then on, and the
    // second wave's counts are increases rate() sees.
    await trafficWave(service);
    await prometheus.scrapedSince(Date.now());
    await trafficWave(service, { openBreaker: true });
    // two scrapes after it: a series the second wave began has the two samples rate() needs
    await prometheus.scrapedSince(Date.now() + SCRAPE_SECONDS * 1000);
    const window = { start: Math.floor(started / 1000), end: Math.ceil(Date.now() / 1000), step: SCRAPE_SECONDS };
    [atAll, picked] = await Promise.all([
      evaluateDashboard(prometheus, dashboard, window),
      evaluateDashboard(prometheus, dashboard, window, PICKED),
    ]);
  });
  after(async () => {
    await prometheus?.close();
    await service?.close();
  });

  const panel = (title: string) => {
    const found = atAll.find((r) => r.panel.title === title);
    assert.ok(found, `no panel "${title}"`);
    return found;
  };
  const named = (r: PanelResult, t: TargetResult) => `#${r.panel.id} "${r.panel.title}" (${t.target.refId})`;

  it('Prometheus accepts every query of every panel', () => {
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    assert.equal(atAll.length, panels.length, 'every panel but the rows');
    const refused = [...atAll, ...picked].flatMap((r) =>
      r.targets.filter((t) => t.answer.error).map((t) => `${named(r, t)}: ${t.answer.error} in ${t.expr}`),
    );
    assert.deepEqual(refused, []);
  });

  for (const [what, results] of [
    ['at "All"', () => atAll],
    [`with ${JSON.stringify(PICKED)} picked`, () => picked],
  ] as const)
    it(`every query returns data ${what}, but those of the panels this traffic cannot fill, each for its reason`, (t) => {
      const empty = results().flatMap((r) => r.targets.filter((q) => !targetHasData(q)).map((q) => ({ r, q })));
      for (const { r, q } of empty)
        assert.ok(NO_DATA_HERE[r.panel.title], `${named(r, q)} returned no data, and no reason is given for it`);
      for (const title of Object.keys(NO_DATA_HERE))
        assert.ok(
          empty.some((e) => e.r.panel.title === title),
          `"${title}" has data now: take it out of NO_DATA_HERE`,
        );
      const filled = results().filter((r) => r.targets.every(targetHasData)).length;
      t.diagnostic(
        `${what}: ${filled} of ${results().length} panels with queries return data (${dashboard.panels.length} panels with the rows)`,
      );
    });

  it('the failures in the time range name the reasons both waves made: 21211 at the attempt, 30007 by receipt', () => {
    const [{ answer }] = panel('Failures in the time range, by reason').targets;
    const reasons = (answer.series ?? []).map((s) => `${s.metric.channel} ${s.metric.stage} ${s.metric.reason}`);
    // (the breaker's 5xx may all land between two scrapes: a series that begins at 3 has no increase)
    for (const reason of ['sms attempt 21211', 'sms receipt 30007'])
      assert.ok(reasons.includes(reason), `${reason} in ${reasons.join(', ')}`);
  });

  it("Twilio's breaker shows open at the end, the fallback's closed", () => {
    const [{ answer }] = panel('Circuit breakers, by channel and provider').targets;
    const last = (provider: string) => answer.series?.find((s) => s.metric.provider === provider)?.values.at(-1)?.[1];
    assert.equal(last('twilio'), 1);
    assert.equal(last('http'), 0);
  });

  it('codes moved to the next channel show by reason: refused (the undelivered SMS and the refused number)', () => {
    const [{ answer }] = panel('Phone codes moved to the next channel, by reason').targets;
    assert.deepEqual(
      answer.series?.map((s) => `${s.metric.from} → ${s.metric.to}: ${s.metric.reason}`),
      ['sms → whatsapp: refused'],
    );
  });
});
