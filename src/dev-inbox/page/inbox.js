// The dev inbox page's script: plain browser JavaScript, no build step. It polls GET /dev/inbox/messages
// every 2 s and puts every value into the page with textContent, never as HTML.

const POLL_MS = 2000;
// What the server knows and the page shows, filled into index.html as data when it is served: the
// labels of purposes and languages, the help of each status.
const vocabulary = JSON.parse(document.getElementById('vocabulary').textContent);
const PURPOSES = vocabulary.purposes ?? {};
const LOCALES = vocabulary.locales ?? {};
const STATUS_HELP = vocabulary.statuses ?? {};
const CHANNELS = vocabulary.channels ?? {};

const list = document.getElementById('list');
const empty = document.getElementById('empty');
const count = document.getElementById('count');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
const liveText = document.getElementById('live-text');
const input = document.getElementById('to');
const announce = document.getElementById('announce');
/** id → { li, parts, code } of each card on the page */
const cards = new Map();
let firstLoad = true;
let timer = null;
let inflight = null;
let lastMessages = [];

/** With DEV_INBOX_TOKEN set the page is opened as /dev/inbox?token=…, and passes it on. */
const token = new URLSearchParams(location.search).get('token');

input.value = new URLSearchParams(location.search).get('to') || '';

/** Builds an element; text goes in with textContent only. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const pad = (n) => (n < 10 ? '0' : '') + n;
const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

function ago(d) {
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return d.toLocaleDateString();
}

function expiry(iso) {
  if (!iso) return { text: '', expired: false };
  const left = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  if (left <= 0) return { text: `expired at ${clock(new Date(iso))}`, expired: true };
  if (left < 60) return { text: `expires in ${left} s`, expired: false };
  return { text: `expires in ${Math.ceil(left / 60)} min (${clock(new Date(iso))})`, expired: false };
}

/** Copies text: the async clipboard API where allowed, else a selected hidden textarea. */
function copyText(text) {
  const fallback = () => {
    const area = el('textarea', 'copy-source');
    area.value = text;
    area.setAttribute('readonly', '');
    area.setAttribute('aria-hidden', 'true');
    document.body.appendChild(area);
    area.focus();
    area.select();
    area.setSelectionRange(0, text.length);
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok ? Promise.resolve('execCommand') : Promise.reject(new Error('copy refused'));
  };
  if (navigator.clipboard?.writeText && window.isSecureContext) {
    return navigator.clipboard.writeText(text).then(() => 'clipboard', fallback);
  }
  return fallback();
}

/** The timer that puts each copy button back to "Copy". */
const resets = new WeakMap();

function onCopy(button, code) {
  copyText(code).then(
    (how) => {
      // What was copied, for people and for tests where the clipboard cannot be read back.
      document.documentElement.setAttribute('data-last-copied', code);
      document.documentElement.setAttribute('data-copy-method', how);
      button.textContent = 'Copied ✓';
      button.classList.add('done');
      announce.textContent = `Copied ${code}`;
    },
    () => {
      button.textContent = 'Select it';
      announce.textContent = 'Copy is blocked here: select the code and copy it by hand.';
    },
  );
  clearTimeout(resets.get(button));
  resets.set(
    button,
    setTimeout(() => {
      button.textContent = 'Copy';
      button.classList.remove('done');
    }, 1800),
  );
}

function buildCard(m) {
  const li = el('li', 'msg');
  li.setAttribute('data-id', m.id);
  const top = el('div', 'top');
  const parts = {
    recipient: el('span', 'recipient'),
    channel: el('span', 'badge'),
    purpose: el('span', 'badge'),
    status: el('span', 'badge'),
    locale: el('span', 'badge locale'),
    meta: el('div', 'meta'),
    code: el('span', 'code'),
    copy: el('button', 'primary', 'Copy'),
    expiry: el('span', 'expiry'),
    reason: el('div', 'reason'),
    details: el('details'),
    body: el('pre'),
    preview: el('details', 'preview'),
  };
  const card = { li, parts, code: '' };
  parts.copy.type = 'button';
  parts.copy.addEventListener('click', () => {
    if (card.code) onCopy(parts.copy, card.code);
  });
  top.append(parts.recipient, parts.channel, parts.purpose, parts.locale, parts.status);
  const box = el('div', 'codebox');
  box.append(parts.code, parts.copy, parts.expiry);
  parts.details.append(el('summary', '', 'Message text'), parts.body);
  buildPreview(parts.preview, m.id);
  li.append(top, parts.meta, box, parts.reason, parts.details, parts.preview);
  return card;
}

/**
 * The email as a mail client shows it, at a phone's width or a desktop client's: a sandboxed frame
 * (no script, its own origin) loaded when first opened.
 */
function buildPreview(details, id) {
  const frame = el('iframe');
  frame.setAttribute('sandbox', '');
  frame.title = 'Email preview';
  const widths = el('div', 'widths');
  for (const [label, phone] of [
    ['Phone', true],
    ['Desktop', false],
  ]) {
    const button = el('button', '', label);
    button.type = 'button';
    button.setAttribute('aria-pressed', String(phone));
    button.addEventListener('click', () => {
      details.classList.toggle('phone', phone);
      for (const b of widths.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    });
    widths.append(button);
  }
  details.classList.add('phone');
  details.append(el('summary', '', 'Email preview'), widths, frame);
  details.addEventListener('toggle', () => {
    if (!details.open || frame.src) return;
    frame.src = `/dev/inbox/messages/${encodeURIComponent(id)}/html${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  });
}

function updateCard(card, m) {
  const p = card.parts;
  card.code = m.otp || '';
  p.recipient.textContent = m.recipient;
  // a call's entry shows the words the call speaks, WhatsApp's the text WhatsApp writes
  p.channel.textContent = CHANNELS[m.channel] ?? m.channel;
  p.purpose.textContent = PURPOSES[m.purpose] || m.purpose;
  p.locale.textContent = m.locale || '';
  p.locale.title = m.locale ? `Written in ${LOCALES[m.locale] || m.locale}` : '';
  p.locale.hidden = !m.locale;
  p.status.textContent = m.status;
  p.status.className = `badge status-${STATUS_HELP[m.status] ? m.status : 'other'}`;
  p.status.title = STATUS_HELP[m.status] || '';
  const created = new Date(m.created_at);
  let meta = `${clock(created)} · ${ago(created)}`;
  if (m.subject) meta += ` · ${m.subject}`;
  p.meta.textContent = meta;
  p.meta.title = created.toString();
  const exp = expiry(m.expires_at);
  if (m.otp) {
    p.code.textContent = m.otp;
    p.code.className = `code${exp.expired ? ' expired' : ''}`;
    p.code.setAttribute('aria-label', `Code ${m.otp.split('').join(' ')}`);
    p.copy.hidden = false;
    p.copy.title = `Copy the code for ${m.recipient}`;
  } else {
    p.code.textContent = 'no code kept for this message';
    p.code.className = 'code none';
    p.code.removeAttribute('aria-label');
    p.copy.hidden = true;
  }
  p.expiry.textContent = exp.text;
  p.reason.textContent = m.last_error
    ? (m.status === 'captured' ? 'Captured because: ' : 'Last error: ') + m.last_error
    : '';
  p.reason.hidden = !m.last_error;
  p.body.textContent = m.body_text || '';
  p.details.hidden = !m.body_text;
  p.preview.hidden = !m.has_html;
}

function renderEmpty() {
  empty.replaceChildren();
  const filter = input.value.trim();
  if (filter) {
    empty.append(el('h2', '', `No messages to ${filter}`));
    empty.append(
      el(
        'p',
        '',
        'Nothing was sent to this recipient yet (matching ignores case; phone numbers match in any common format).',
      ),
    );
    const all = el('button', '', 'Show all messages');
    all.type = 'button';
    all.addEventListener('click', clearFilter);
    empty.append(all);
    return;
  }
  empty.append(el('h2', '', 'No messages yet'));
  empty.append(
    el('p', '', 'Codes appear here within a second of being issued. To get one, register an account through the API:'),
  );
  const lines = [
    `curl -X POST ${location.origin}/api/v1/auth/register \\`,
    '  -H "content-type: application/json" \\',
    `  -d '{"email": "you@example.com", "phone": "+27825550123",`,
    `       "first_name": "Ada", "last_name": "Lovelace", "password": "correct horse battery"}'`,
  ];
  empty.append(el('pre', 'cmd', lines.join('\n')));
  const p = el('p');
  p.append('Or try it in the API docs at ');
  const link = el('a', '', '/docs');
  link.href = '/docs';
  p.append(link, '. Resend, phone verification, password reset and unlock codes show up here too.');
  empty.append(p);
}

function render(messages) {
  lastMessages = messages;
  const seen = new Set();
  messages.forEach((m, i) => {
    seen.add(m.id);
    let card = cards.get(m.id);
    if (!card) {
      card = buildCard(m);
      cards.set(m.id, card);
      if (!firstLoad) {
        const li = card.li;
        li.classList.add('new');
        // Drop the class once played: moving the card later must not replay the flash.
        li.addEventListener('animationend', () => li.classList.remove('new'), { once: true });
      }
    }
    updateCard(card, m);
    if (list.children[i] !== card.li) list.insertBefore(card.li, list.children[i] || null);
  });
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.li.remove();
      cards.delete(id);
    }
  }
  const filter = input.value.trim();
  count.textContent = messages.length
    ? `${messages.length}${messages.length === 1 ? ' message' : ' messages'}${filter ? ` to ${filter}` : ''}${
        messages.length >= 100 ? ' (latest 100)' : ''
      }`
    : '';
  empty.hidden = messages.length > 0;
  if (!messages.length) renderEmpty();
  firstLoad = false;
}

function setLive(ok, text) {
  live.classList.toggle('down', !ok);
  liveText.textContent = text;
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, POLL_MS);
}

function refresh() {
  clearTimeout(timer);
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const filter = input.value.trim();
  const url = `/dev/inbox/messages${filter ? `?to=${encodeURIComponent(filter)}` : ''}`;
  const headers = { accept: 'application/json' };
  if (token) headers['x-dev-inbox-token'] = token;
  fetch(url, { headers, cache: 'no-store', signal: controller.signal })
    .then((res) => {
      if (!res.ok) {
        return res
          .json()
          .catch(() => null)
          .then((b) => {
            const msg = b?.error?.message ? b.error.message : `HTTP ${res.status}`;
            throw new Error(
              res.status === 404 ? 'The dev inbox is off: the server is not running with APP_ENV=development.' : msg,
            );
          });
      }
      return res.json();
    })
    .then((data) => {
      if (controller !== inflight) return;
      banner.classList.remove('show');
      setLive(true, `live · updated ${clock(new Date())}`);
      render(data.messages || []);
    })
    .catch((err) => {
      if (err?.name === 'AbortError') return;
      banner.textContent = err?.message?.includes('dev inbox')
        ? err.message
        : `Cannot reach the server (${err?.message ? err.message : 'network error'}). Is it running? Retrying every 2 s.`;
      banner.classList.add('show');
      setLive(false, 'offline · retrying');
      if (firstLoad) render([]);
    })
    .then(() => {
      if (controller === inflight) {
        inflight = null;
        schedule();
      }
    });
}

function syncUrl() {
  const filter = input.value.trim();
  const params = new URLSearchParams(location.search);
  if (filter) params.set('to', filter);
  else params.delete('to');
  const qs = params.toString();
  history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
}

function clearFilter() {
  input.value = '';
  syncUrl();
  refresh();
  input.focus();
}

let debounce = null;
input.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => {
    syncUrl();
    refresh();
  }, 250);
});
document.getElementById('filter-form').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(debounce);
  syncUrl();
  refresh();
});
document.getElementById('clear').addEventListener('click', clearFilter);
window.addEventListener('popstate', () => {
  input.value = new URLSearchParams(location.search).get('to') || '';
  refresh();
});
// Keep relative times and expiry fresh even while the server is unreachable.
setInterval(() => {
  if (lastMessages.length) render(lastMessages);
}, 15000);

refresh();
