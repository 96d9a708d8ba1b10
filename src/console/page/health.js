// Delivery health: codes queued and used over the last 24 hours or 7 days, per channel, provider or
// calling code (uPlot, served by the service from its own package), the same numbers as tables,
// each provider's breakers and the queue. From GET /console/api/health-stats.
import { ago, api, channelLabel, duration, el, fail, say, when, wireSignOut } from './common.js';

wireSignOut();

const controls = document.getElementById('controls');
/** The last answer, redrawn when the grouping or the window's width changes. */
let data;

/** Okabe and Ito's colours, told apart with colour blindness; a dash of its own for each line too. */
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#7f7f7f'];
const DASHES = [[], [8, 4], [2, 3], [10, 3, 2, 3]];

controls.addEventListener('change', (event) => {
  if (event.target.name === 'range') return load();
  draw();
  scrollable();
});
controls.addEventListener('submit', (event) => event.preventDefault());
let resizing;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    draw();
    scrollable();
  }, 150);
});
load();

async function load() {
  const range = controls.elements.range.value;
  say('Loading…');
  try {
    data = await api('GET', `/console/api/health-stats?range=${encodeURIComponent(range)}`);
    draw();
    tables();
    scrollable();
    say(`Numbers of the ${range === '7d' ? 'last 7 days' : 'last 24 hours'}, read ${new Date().toLocaleTimeString()}.`);
  } catch (err) {
    fail(err);
  }
}

const groupLabel = {
  channel: (s) => channelLabel(s.channel),
  provider: (s) => s.provider ?? 'not tried yet',
  calling_code: (s) => (s.calling_code === null ? 'email' : s.calling_code ? `+${s.calling_code}` : 'unknown'),
};

/** The series summed by the chosen grouping, largest first. */
function grouped() {
  const by = groupLabel[controls.elements.group.value];
  const groups = new Map();
  for (const s of data.series) {
    const label = by(s);
    const g = groups.get(label) ?? { issued: s.issued.map(() => 0), verified: s.verified.map(() => 0) };
    s.issued.forEach((n, i) => {
      g.issued[i] += n;
    });
    s.verified.forEach((n, i) => {
      g.verified[i] += n;
    });
    groups.set(label, g);
  }
  return [...groups.entries()].sort((a, b) => sum(b[1].issued) - sum(a[1].issued));
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

const bucketLabel = (iso) =>
  new Date(iso).toLocaleString(
    undefined,
    data.range === '7d' ? { weekday: 'short', day: 'numeric', month: 'short' } : { hour: '2-digit', minute: '2-digit' },
  );

function draw() {
  if (!data) return;
  const groups = grouped();
  const xs = data.buckets.map((b) => Date.parse(b) / 1000);
  const ink = getComputedStyle(document.body).color;
  for (const [id, field] of [
    ['chart-issued', 'issued'],
    ['chart-verified', 'verified'],
  ]) {
    const plot = document.querySelector(`#${id} .plot`);
    plot.replaceChildren();
    if (!groups.length) {
      plot.append(el('p', { class: 'empty' }, 'No codes in this period.'));
      continue;
    }
    const axis = { stroke: ink, grid: { stroke: 'rgba(128,128,128,0.2)' }, ticks: { stroke: 'rgba(128,128,128,0.4)' } };
    new uPlot(
      {
        width: Math.max(280, plot.clientWidth),
        height: 240,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        // counts: whole numbers on the y axis
        axes: [
          axis,
          { ...axis, size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] },
        ],
        series: [
          {},
          ...groups.map(([label], i) => ({
            label,
            stroke: COLORS[i % COLORS.length],
            dash: DASHES[i % DASHES.length],
            width: 2,
            points: { show: true, size: 5 },
          })),
        ],
      },
      [xs, ...groups.map(([, g]) => g[field])],
      plot,
    );
  }
  overTime(groups);
}

/** The charts' numbers as a table: for screen readers, and for whoever wants the figures. */
function overTime(groups) {
  const head = el(
    'tr',
    {},
    el('th', { scope: 'col' }, data.range === '7d' ? 'Day' : 'Hour'),
    groups.flatMap(([label]) => [
      el('th', { scope: 'col' }, `${label} queued`),
      el('th', { scope: 'col' }, `${label} used`),
    ]),
  );
  const rows = data.buckets.map((b, i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, el('time', { datetime: b }, bucketLabel(b))),
      groups.flatMap(([, g]) => [el('td', {}, g.issued[i]), el('td', {}, g.verified[i])]),
    ),
  );
  document
    .getElementById('over-time')
    .replaceChildren(
      el('caption', {}, 'Codes queued and used, per bucket'),
      el('thead', {}, head),
      el('tbody', {}, rows),
    );
}

const percent = (part, whole) => (whole ? `${Math.round((100 * part) / whole)} %` : '—');

function tables() {
  const th = (text, numeric) => el('th', { scope: 'col', class: numeric ? 'num' : undefined }, text);
  const breakdown = data.series.map((s) => {
    const [issued, verified] = [sum(s.issued), sum(s.verified)];
    return el(
      'tr',
      {},
      el('td', {}, channelLabel(s.channel)),
      el('td', {}, s.provider ?? 'not tried yet'),
      el('td', {}, groupLabel.calling_code(s)),
      el('td', { class: 'num' }, issued),
      el('td', { class: 'num' }, verified),
      el('td', { class: 'num' }, percent(verified, issued)),
    );
  });
  document
    .getElementById('breakdown')
    .replaceChildren(
      el('caption', {}, 'Totals of the period'),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          th('Channel'),
          th('Provider'),
          th('Calling code'),
          th('Queued', true),
          th('Used', true),
          th('Used of queued', true),
        ),
      ),
      el(
        'tbody',
        {},
        breakdown.length ? breakdown : el('tr', {}, el('td', { colspan: 6 }, 'No codes in this period.')),
      ),
    );

  const providers = data.channels.map((c) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, channelLabel(c.channel)),
      el(
        'td',
        {},
        c.provider,
        c.state === 'configured' ? '' : ` (${c.state})`,
        c.problem ? el('p', { class: 'detail' }, c.problem) : null,
      ),
      el(
        'td',
        {},
        c.breakers?.length ? el('ul', { class: 'plain' }, c.breakers.map(breaker)) : 'one provider: no breaker',
      ),
      el('td', {}, c.last_success_at ? [when(c.last_success_at), ` (${ago(c.last_success_at)})`] : 'never'),
      el('td', {}, c.last_error ? [when(c.last_error_at), el('p', { class: 'detail' }, c.last_error)] : 'none'),
      el('td', { class: 'num' }, c.queue_depth),
      el('td', {}, c.oldest_queued_at ? `${ago(c.oldest_queued_at)}` : '—'),
    ),
  );
  document
    .getElementById('providers')
    .replaceChildren(
      el('caption', {}, 'Each channel as this server sees it'),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          th('Channel'),
          th('Provider'),
          th('Breakers'),
          th('Last success'),
          th('Last error'),
          th('Waiting'),
          th('Oldest waiting'),
        ),
      ),
      el('tbody', {}, providers),
    );

  const q = data.queue;
  document
    .getElementById('queue')
    .replaceChildren(
      el('dt', {}, 'Messages waiting to be sent'),
      el('dd', {}, q.depth),
      el('dt', {}, 'Oldest waiting since'),
      el(
        'dd',
        {},
        q.oldest_queued_at ? [when(q.oldest_queued_at), ` (${duration(q.oldest_age_seconds)})`] : 'nothing waits',
      ),
    );
}

/**
 * A table wider than its place scrolls inside it, and can then be reached and scrolled by keyboard:
 * a named region in the tab order (only then: a region that does not scroll has nothing to do there).
 */
function scrollable() {
  for (const box of document.querySelectorAll('.scroll')) {
    if (box.scrollWidth > box.clientWidth) {
      box.setAttribute('tabindex', '0');
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', box.querySelector('caption')?.textContent ?? 'Table');
    } else {
      box.removeAttribute('tabindex');
      box.removeAttribute('role');
    }
  }
}

function breaker(b) {
  const words = {
    closed: 'closed: sending',
    open: 'open: paused after failures',
    'half-open': 'half-open: one probe goes',
  };
  return el(
    'li',
    {},
    el('strong', {}, `${b.provider} (${b.role})`),
    `: ${words[b.state] ?? b.state}`,
    b.failures ? `, ${b.failures} failure${b.failures === 1 ? '' : 's'} in a row` : '',
    b.open_until ? [', until ', when(b.open_until)] : '',
    b.last_error ? el('p', { class: 'detail' }, b.last_error) : null,
  );
}
