/**
 * The README's picture of the Grafana dashboard, made without Grafana (there is none to install here):
 * the service under waves of test traffic (test/support/dashboard.ts, as test/dashboard-prometheus.test.ts
 * drives it), a real Prometheus scraping it every second, every query of deploy/grafana/panic-api.json
 * sent to Prometheus as Grafana would, and the answers drawn by panel, laid out by each panel's gridPos
 * (uPlot for time series, in headless Chromium) into docs/dashboard-preview.png. The image says on
 * itself that it is a preview and not Grafana's rendering.
 *
 *   node --import tsx scripts/dashboard-preview.ts [--minutes 3] [--out docs/dashboard-preview.png]
 *
 * Run by hand (not in CI): it needs /usr/bin/prometheus and /usr/bin/chromium, and takes the minutes
 * asked for plus about 20 s.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import type uPlot from 'uplot';
import {
  type Dashboard,
  evaluateDashboard,
  legendOf,
  type Panel,
  type PanelResult,
  RATE_INTERVAL,
  readDashboard,
  startDashboardService,
  trafficWave,
} from '../test/support/dashboard.ts';
import { type Prometheus, SCRAPE_SECONDS, startPrometheus, type Window } from '../test/support/prometheus.ts';
import { launchChromium } from '../test/support/chromium.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    out: { type: 'string', default: new URL('../docs/dashboard-preview.png', import.meta.url).pathname },
  },
});
const minutes = Number(args.minutes);
if (!(minutes >= 1 && minutes <= 30)) throw new Error(`--minutes must be 1 to 30, not ${args.minutes}`);

// ---------------------------------------------------------------- what the page draws

interface Step {
  value: number | null;
  color: string;
}

/** A panel as the page draws it: its settings from the dashboard, its series aligned on the window's times. */
interface PagePanel {
  type: string;
  title: string;
  gridPos: Panel['gridPos'];
  unit: string;
  decimals?: number;
  min?: number;
  max?: number;
  drawStyle: string;
  fillOpacity: number;
  stacked: boolean;
  thresholds: Step[];
  thresholdsStyle: string;
  /** A state timeline's value → its word and colour. */
  mappings: Record<string, { text: string; color: string }>;
  legend: boolean;
  series: Array<{ name: string; values: Array<number | null> }>;
  /** An instant query's answer: one value per series. */
  instant: boolean;
}

interface PageData {
  title: string;
  banner: string;
  variables: string[];
  range: string;
  xs: number[];
  rows: Array<{ title: string; y: number }>;
  panels: PagePanel[];
}

function pageData(dashboard: Dashboard, results: PanelResult[], window: Window): PageData {
  const xs: number[] = [];
  for (let t = window.start; t <= window.end; t += window.step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const panels = results.map(({ panel, targets }): PagePanel => {
    const defaults = panel.fieldConfig?.defaults ?? {};
    const custom = (defaults.custom ?? {}) as {
      drawStyle?: string;
      fillOpacity?: number;
      stacking?: { mode?: string };
      thresholdsStyle?: { mode?: string };
    };
    const mappings: PagePanel['mappings'] = {};
    for (const m of (defaults.mappings ?? []) as Array<{ options: PagePanel['mappings'] }>)
      Object.assign(mappings, m.options);
    const legend = (panel.options?.legend ?? {}) as { showLegend?: boolean };
    return {
      type: panel.type,
      title: panel.title,
      gridPos: panel.gridPos,
      unit: (defaults.unit as string) ?? 'short',
      decimals: defaults.decimals as number | undefined,
      min: defaults.min as number | undefined,
      max: defaults.max as number | undefined,
      drawStyle: custom.drawStyle ?? 'line',
      fillOpacity: custom.fillOpacity ?? 0,
      stacked: custom.stacking?.mode === 'normal',
      thresholds: ((defaults.thresholds as { steps?: Step[] })?.steps ?? []).map((s) => ({
        value: s.value,
        color: s.color,
      })),
      thresholdsStyle: custom.thresholdsStyle?.mode ?? 'off',
      mappings,
      legend: legend.showLegend !== false,
      instant: targets.some((t) => t.target.instant),
      series: targets.flatMap(({ target, answer }) =>
        (answer.series ?? []).map((s) => {
          const values: Array<number | null> = xs.map(() => null);
          for (const [t, v] of s.values) {
            const i = target.instant ? xs.length - 1 : index.get(t);
            if (i !== undefined && Number.isFinite(v)) values[i] = v;
          }
          return { name: legendOf(target, s.metric), values };
        }),
      ),
    };
  });
  const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, 19);
  const day = new Date(window.start * 1000).toISOString().slice(0, 10);
  return {
    title: dashboard.title,
    banner:
      'Preview of deploy/grafana/panic-api.json drawn from a real Prometheus by scripts/dashboard-preview.ts ' +
      "(test traffic, uPlot in headless Chromium): not Grafana's rendering.",
    variables: [
      ...dashboard.templating.list.map((v) => `${v.label ?? v.name}: All`),
      `$__rate_interval: ${RATE_INTERVAL}`,
    ],
    range: `${day} ${clock(window.start)} to ${clock(window.end)} UTC`,
    xs,
    rows: dashboard.panels.filter((p) => p.type === 'row').map((p) => ({ title: p.title, y: p.gridPos.y })),
    panels,
  };
}

/**
 * Draws the dashboard into the page. It runs in Chromium (page.evaluate), so it uses nothing from
 * this module's scope: the page has uPlot as a global.
 */
function drawDashboard(data: PageData): void {
  const U = (globalThis as unknown as { uPlot: typeof uPlot }).uPlot;
  const CELL = 30;
  const GAP = 8;
  const PALETTE = [
    '#73BF69',
    '#F2CC0C',
    '#8AB8FF',
    '#FF780A',
    '#F2495C',
    '#5794F2',
    '#B877D9',
    '#705DA0',
    '#37872D',
    '#FADE2A',
    '#447EBC',
    '#C15C17',
    '#890F02',
    '#0A437C',
    '#6D1F62',
    '#584477',
  ];
  const NAMED: Record<string, string> = {
    green: '#73BF69',
    red: '#F2495C',
    orange: '#FF9830',
    yellow: '#FADE2A',
    blue: '#5794F2',
  };
  const colorOf = (c: string) => NAMED[c] ?? c;
  const alpha = (hex: string, a: number) =>
    `${hex}${Math.round(a * 255)
      .toString(16)
      .padStart(2, '0')}`;

  const plain = (v: number, decimals?: number): string => {
    const abs = Math.abs(v);
    if (abs >= 1e9) return `${plain(v / 1e9, decimals)} Bil`;
    if (abs >= 1e6) return `${plain(v / 1e6, decimals)} Mil`;
    if (abs >= 1e3) return `${plain(v / 1e3, decimals)} K`;
    const d = decimals ?? (abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
    return String(Number(v.toFixed(d)));
  };
  const duration = (v: number, decimals?: number): string => {
    const abs = Math.abs(v);
    if (abs === 0) return '0 s';
    if (abs < 1) return `${plain(v * 1000, decimals)} ms`;
    if (abs < 60) return `${plain(v, decimals)} s`;
    if (abs < 3600) return `${plain(v / 60, decimals)} min`;
    return `${plain(v / 3600, decimals)} hour`;
  };
  const bytes = (v: number, decimals?: number): string => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${plain(v, decimals)} ${units[i]}`;
  };
  /** A value in the panel's unit, as Grafana writes it. */
  const format = (unit: string, v: number | null | undefined, decimals?: number): string => {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    if (unit === 'percentunit') return `${plain(v * 100, decimals)}%`;
    if (unit === 's') return duration(v, decimals);
    if (unit === 'bytes') return bytes(v, decimals);
    if (unit === 'cpm') return `${plain(v, decimals)} cpm`;
    if (unit === 'reqps') return `${plain(v, decimals)} req/s`;
    return plain(v, decimals);
  };
  const lastOf = (values: Array<number | null>) => [...values].reverse().find((v) => v !== null) ?? null;
  const maxOf = (values: Array<number | null>) =>
    values.reduce<number | null>((m, v) => (v === null ? m : m === null ? v : Math.max(m, v)), null);
  /** The colour of the threshold step a value falls in. */
  const stepColor = (p: PagePanel, v: number | null) => {
    let color = p.thresholds[0]?.color ?? 'green';
    for (const s of p.thresholds) if (s.value === null || (v !== null && v >= s.value)) color = s.color;
    return colorOf(color);
  };

  const el = (tag: string, className: string, parent: HTMLElement, text?: string) => {
    const e = document.createElement(tag);
    e.className = className;
    if (text !== undefined) e.textContent = text;
    parent.append(e);
    return e;
  };

  const measure = document.createElement('canvas').getContext('2d')!;
  measure.font = '11px "Liberation Sans", sans-serif';
  /** `text`, or its start and end around an ellipsis, in at most `px` pixels of the legend's font. */
  const fit = (text: string, px: number) => {
    if (measure.measureText(text).width <= px) return text;
    let keep = text.length;
    const cut = () => `${text.slice(0, Math.ceil(keep / 2))}…${text.slice(text.length - Math.floor(keep / 2))}`;
    while (keep > 2 && measure.measureText(cut()).width > px) keep--;
    return cut();
  };

  const root = document.getElementById('dashboard')!;
  const header = el('header', '', root);
  el('h1', '', header, data.title);
  const bar = el('div', 'variables', header);
  for (const v of data.variables) el('span', 'pill', bar, v);
  el('span', 'range', bar, data.range);
  el('div', 'banner', root, data.banner);

  const grid = el('div', 'grid', root);
  const width = grid.clientWidth;
  const col = (width + GAP) / 24;
  const place = (e: HTMLElement, pos: Panel['gridPos']) => {
    e.style.left = `${pos.x * col}px`;
    e.style.top = `${pos.y * (CELL + GAP)}px`;
    e.style.width = `${pos.w * col - GAP}px`;
    e.style.height = `${pos.h * (CELL + GAP) - GAP}px`;
  };
  const bottom = Math.max(...data.panels.map((p) => p.gridPos.y + p.gridPos.h));
  grid.style.height = `${bottom * (CELL + GAP)}px`;
  for (const r of data.rows) place(el('div', 'row', grid, r.title), { x: 0, y: r.y, w: 24, h: 1 });

  const span = data.xs[data.xs.length - 1] - data.xs[0];
  const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, span > 600 ? 16 : 19);
  const timeAxis = {
    stroke: '#ccccdc',
    grid: { stroke: '#2c3235', width: 1 },
    ticks: { stroke: '#2c3235', width: 1 },
    font: '11px "Liberation Sans", sans-serif',
    values: (_u: uPlot, splits: number[]) => splits.map(clock),
  };

  for (const p of data.panels) {
    const box = el('section', 'panel', grid);
    place(box, p.gridPos);
    el('h2', '', box, p.title);
    const body = el('div', 'body', box);
    const live = p.series.filter((s) => s.values.some((v) => v !== null));
    if (!live.length) {
      el('div', 'nodata', body, 'No data');
      continue;
    }

    if (p.type === 'stat') {
      const values = live[0].values;
      const v = lastOf(values);
      const color = stepColor(p, v);
      const spark = el('div', 'spark', body);
      const number = el('div', 'stat', body, format(p.unit, v, p.decimals));
      number.style.color = color;
      number.style.fontSize = `${Math.min(body.clientHeight * 0.55, body.clientWidth / 5)}px`;
      new U(
        {
          width: body.clientWidth,
          height: body.clientHeight,
          legend: { show: false },
          cursor: { show: false },
          axes: [{ show: false }, { show: false }],
          scales: { x: { time: true } },
          series: [{}, { stroke: color, fill: alpha(color, 0.15), width: 1, points: { show: false } }],
        },
        [data.xs, values] as uPlot.AlignedData,
        spark,
      );
      continue;
    }

    if (p.type === 'bargauge') {
      const items = live.map((s) => ({ name: s.name, v: lastOf(s.values) ?? 0 }));
      const top = Math.max(...items.map((i) => i.v));
      const list = el('div', 'bars', body);
      for (const item of items) {
        const line = el('div', 'bargauge', list);
        el('span', 'name', line, item.name);
        const track = el('span', 'track', line);
        const fill = el('span', 'fill', track);
        fill.style.width = `${(item.v / top) * 100}%`;
        fill.style.background = stepColor(p, item.v);
        const value = el('span', 'value', line, format(p.unit, item.v, p.decimals));
        value.style.color = stepColor(p, item.v);
      }
      continue;
    }

    if (p.type === 'state-timeline') {
      const table = el('div', 'states', body);
      const [t0, t1] = [data.xs[0], data.xs[data.xs.length - 1]];
      for (const s of live) {
        const line = el('div', 'state', table);
        el('span', 'name', line, s.name);
        const track = el('span', 'track', line);
        let from = 0;
        for (let i = 1; i <= s.values.length; i++) {
          if (i < s.values.length && s.values[i] === s.values[from]) continue;
          const v = s.values[from];
          if (v !== null) {
            const mapped = p.mappings[String(v)];
            const seg = el('span', 'segment', track, mapped?.text ?? String(v));
            seg.style.left = `${((data.xs[from] - t0) / (t1 - t0)) * 100}%`;
            seg.style.width = `${((data.xs[i - 1] - data.xs[from] + (data.xs[1] - data.xs[0])) / (t1 - t0)) * 100}%`;
            seg.style.background = colorOf(mapped?.color ?? 'green');
          }
          from = i;
        }
      }
      const axis = el('div', 'state axis', table);
      el('span', 'name', axis);
      const ticks = el('span', 'track', axis);
      for (let k = 0; k <= 4; k++) {
        const t = t0 + ((t1 - t0) * k) / 4;
        const tick = el('span', 'tick', ticks, clock(t));
        tick.style.left = `${k * 25}%`;
      }
      continue;
    }

    // a time series: the chart, and the legend as a table on its right (Name, Last *, Max)
    const chart = el('div', 'chart', body);
    let legendWidth = 0;
    if (p.legend) {
      const table = el('table', 'legend', body);
      const head = el('tr', '', table);
      for (const h of ['Name', 'Last *', 'Max']) el('th', '', head, h);
      live.forEach((s, i) => {
        const row = el('tr', '', table);
        const name = el('td', 'name', row);
        el('i', '', name).style.background = PALETTE[i % PALETTE.length];
        // a long name loses its middle, so that the chart keeps half the panel and the name its end
        name.append(fit(s.name, Math.max(110, body.clientWidth * 0.55 - 140)));
        el('td', '', row, format(p.unit, lastOf(s.values), p.decimals));
        el('td', '', row, format(p.unit, maxOf(s.values), p.decimals));
      });
      legendWidth = table.offsetWidth + 8;
    }
    const plotted = live.map((s) => s.values.slice());
    if (p.stacked)
      for (let i = 1; i < plotted.length; i++)
        plotted[i] = plotted[i].map((v, k) => (v === null ? null : v + (plotted[i - 1][k] ?? 0)));
    const bars = p.drawStyle === 'bars' ? U.paths.bars!({ size: [0.9, 12], align: 1 }) : undefined;
    new U(
      {
        width: body.clientWidth - legendWidth,
        height: body.clientHeight,
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: { time: true },
          y: {
            // as Grafana: the panel's min and max where set, else the data's (thresholds do not widen it)
            range: (_u, lo, hi) => {
              const min = p.min ?? Math.min(lo, 0);
              return [min, p.max ?? (hi > min ? hi * 1.1 : min + 1)];
            },
          },
        },
        axes: [
          timeAxis,
          {
            ...timeAxis,
            size: 62,
            values: (_u: uPlot, splits: number[]) => splits.map((v) => format(p.unit, v)),
            // bytes step by powers of two, as Grafana's axis does
            ...(p.unit === 'bytes'
              ? {
                  incrs: [0, 1, 2, 3, 4].flatMap((k) =>
                    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * 1024 ** k),
                  ),
                }
              : {}),
          },
        ],
        series: [
          {},
          ...live.map((s, i) => {
            const color = PALETTE[i % PALETTE.length];
            return {
              label: s.name,
              stroke: color,
              width: 1.5,
              fill: p.fillOpacity ? alpha(color, p.fillOpacity / 100) : undefined,
              paths: bars,
              points: { show: false },
            };
          }),
        ],
        bands: p.stacked ? plotted.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })) : [],
        hooks: {
          // Grafana's thresholds style: a dashed line at each step, and with "line+area" each step's band
          // shaded in its colour; behind the series
          drawAxes: [
            (u: uPlot) => {
              if (p.thresholdsStyle === 'off') return;
              const { left, top, width, height } = u.bbox;
              const yOf = (v: number) => Math.min(top + height, Math.max(top, u.valToPos(v, 'y', true)));
              p.thresholds.forEach((step, i) => {
                const color = colorOf(step.color);
                if (color === 'transparent') return;
                const lower = step.value === null ? top + height : yOf(step.value);
                const next = p.thresholds[i + 1];
                const upper = next?.value != null ? yOf(next.value) : top;
                u.ctx.save();
                if (p.thresholdsStyle === 'line+area') {
                  u.ctx.fillStyle = alpha(color, 0.12);
                  u.ctx.fillRect(left, upper, width, lower - upper);
                }
                // a step's line only where its value is on the axis
                const y = step.value === null ? Number.NaN : u.valToPos(step.value, 'y', true);
                if (y >= top && y <= top + height) {
                  u.ctx.strokeStyle = color;
                  u.ctx.setLineDash([6, 4]);
                  u.ctx.beginPath();
                  u.ctx.moveTo(left, y);
                  u.ctx.lineTo(left + width, y);
                  u.ctx.stroke();
                }
                u.ctx.restore();
              });
            },
          ],
        },
      },
      [data.xs, ...plotted] as uPlot.AlignedData,
      chart,
    );
  }
}

const PAGE_CSS = `
  body { margin: 0; background: #111217; color: #ccccdc; font: 13px "Liberation Sans", sans-serif; }
  #dashboard { width: 1600px; padding: 16px 16px 24px; box-sizing: border-box; }
  header { display: flex; align-items: center; gap: 24px; margin-bottom: 10px; }
  h1 { font-size: 20px; font-weight: 500; margin: 0; color: #fff; }
  .variables { display: flex; gap: 8px; align-items: center; flex: 1; }
  .pill { background: #22252b; border: 1px solid #34363c; border-radius: 2px; padding: 4px 8px; }
  .range { margin-left: auto; color: #9fa7b3; }
  .banner { background: #3d2e00; border: 1px solid #8a6d00; color: #ffd666; padding: 8px 12px; margin-bottom: 14px;
    border-radius: 2px; font-size: 14px; }
  .grid { position: relative; width: 100%; }
  .row { position: absolute; font-size: 16px; font-weight: 600; color: #d8d9da; display: flex; align-items: center; }
  .panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; box-sizing: border-box;
    display: flex; flex-direction: column; overflow: hidden; }
  h2 { font-size: 13px; font-weight: 600; margin: 0; padding: 6px 8px 4px; color: #ccccdc; white-space: nowrap;
    overflow: hidden; text-overflow: ellipsis; }
  .body { position: relative; flex: 1; display: flex; min-height: 0; padding: 0 6px 6px; }
  .nodata { margin: auto; color: #8e8e8e; font-size: 15px; }
  .spark { position: absolute; inset: 0 6px 6px; }
  .stat { position: relative; margin: auto; font-weight: 500; line-height: 1; }
  .legend { border-collapse: collapse; align-self: flex-start; font-size: 11px; margin-left: 8px; table-layout: auto; }
  .legend th { color: #6e9fff; font-weight: 500; text-align: right; padding: 2px 6px; }
  .legend th:first-child { text-align: left; }
  .legend td { padding: 2px 6px; text-align: right; white-space: nowrap; }
  .legend td.name { text-align: left; overflow: hidden; text-overflow: ellipsis; }
  .legend i { display: inline-block; width: 12px; height: 3px; margin: 0 6px 3px 0; vertical-align: middle; }
  .chart { flex: 1; min-width: 0; }
  .bars { display: flex; flex-direction: column; gap: 6px; width: 100%; padding-top: 4px; }
  .bargauge { display: flex; align-items: center; gap: 8px; height: 24px; }
  .bargauge .name { width: 30%; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .bargauge .track { flex: 1; height: 100%; background: #22252b; }
  .bargauge .fill { display: block; height: 100%; }
  .bargauge .value { width: 40px; font-size: 16px; font-weight: 500; }
  .states { display: flex; flex-direction: column; gap: 6px; width: 100%; padding-top: 6px; }
  .state { display: flex; align-items: center; gap: 8px; height: 40px; }
  .state.axis { height: 16px; }
  .state .name { width: 100px; text-align: right; }
  .state .track { position: relative; flex: 1; height: 100%; }
  .segment { position: absolute; top: 0; bottom: 0; color: #111217; display: flex; align-items: center;
    justify-content: center; overflow: hidden; border-right: 1px solid #181b1f; box-sizing: border-box; }
  .tick { position: absolute; transform: translateX(-50%); color: #ccccdc; font-size: 11px; }
  .tick:first-child { transform: none; }
  .tick:last-child { transform: translateX(-100%); }
`;

async function render(data: PageData, out: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.setContent(
      `<!doctype html><html><head><style>${uplotCss}${PAGE_CSS}</style><script>${uplotJs}</script></head>` +
        '<body><div id="dashboard"></div></body></html>',
    );
    // tsx (esbuild, keepNames) wraps this module's named functions in __name(), which the page lacks
    await page.evaluate('globalThis.__name = (f) => f');
    await page.evaluate(drawDashboard, data);
    await page.locator('#dashboard').screenshot({ path: out });
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------- the run

const service = await startDashboardService();
let prometheus: Prometheus | undefined;
try {
  const started = Date.now();
  prometheus = await startPrometheus(service.target);
  const until = started + minutes * 60_000;
  let firstScrape: number | undefined;
  let breakerOpened = false;
  for (let wave = 1; Date.now() < until; wave++) {
    const elapsed = (Date.now() - started) / (until - started);
    // the webhook endpoint down through the middle third: failures, a backlog, then its retries drain it
    service.webhooks.mode = elapsed > 1 / 3 && elapsed < 2 / 3 ? 'down' : 'up';
    // Twilio's breaker open from a quarter of the way: 60 s on the fallback, then closed again
    const openBreaker: boolean = !breakerOpened && elapsed > 0.25;
    breakerOpened ||= openBreaker;
    await trafficWave(service, { openBreaker });
    firstScrape ??= await prometheus.scrapedSince(started);
    process.stdout.write(`wave ${wave} at ${Math.round((Date.now() - started) / 1000)} s\n`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  service.webhooks.mode = 'up';
  const end = await prometheus.scrapedSince(Date.now());
  // the window opens at Prometheus's first scrape (up to 5 s after it started): nothing is stored before
  const window = { start: Math.floor(firstScrape!), end: Math.floor(end), step: SCRAPE_SECONDS };
  const dashboard = readDashboard();
  const results = await evaluateDashboard(prometheus, dashboard, window);
  await render(pageData(dashboard, results, window), args.out!);
  process.stdout.write(`wrote ${args.out}\n`);
} finally {
  await prometheus?.close();
  await service.close();
}
