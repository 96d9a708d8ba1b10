/**
 * The development inbox page: one self-contained HTML document (inline CSS and JS, nothing loaded from
 * elsewhere, no build step). It polls GET /dev/inbox/messages every 2 s and renders every value with
 * textContent, never as HTML. The script avoids backticks so this file can hold it in a template literal.
 */
import { MESSAGE_STATUSES, PURPOSES } from '../shared/vocabulary.ts';
import { LOCALES } from '../shared/locales.ts';

/** A value as a script literal: `<` escaped so no string can end the script element. */
const inlineJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

export const INBOX_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Dev inbox · panic-api</title>
<style>
  :root {
    --bg: #f5f6f8; --card: #ffffff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
    --accent: #2f5bea; --accent-text: #ffffff; --code-bg: #f0f3ff;
    --ok: #137a3f; --ok-bg: #e3f5ea; --warn: #8a5a00; --warn-bg: #fff3d6;
    --bad: #b42318; --bad-bg: #fde8e7; --info: #1f4fbf; --info-bg: #e6edff;
    color-scheme: light dark;
  }
  @media (prefers-color-scheme: dark) {
    :root {
      --bg: #12151b; --card: #1b2029; --text: #e7eaf0; --muted: #98a2b3; --line: #2c333f;
      --accent: #6d8dff; --accent-text: #0d1020; --code-bg: #222a3b;
      --ok: #6fd49a; --ok-bg: #16301f; --warn: #f3c567; --warn-bg: #3a2c0c;
      --bad: #ff8a80; --bad-bg: #3b1614; --info: #9db5ff; --info-bg: #1d2744;
    }
  }
  * { box-sizing: border-box; }
  body {
    margin: 0; background: var(--bg); color: var(--text);
    font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  }
  main { max-width: 780px; margin: 0 auto; padding: 20px 16px 48px; }
  header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 4px 16px; }
  h1 { font-size: 22px; margin: 0; letter-spacing: -0.01em; }
  h1 small { font-size: 13px; font-weight: 500; color: var(--muted); margin-left: 6px; }
  .live { font-size: 13px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
  .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--ok); box-shadow: 0 0 0 3px var(--ok-bg); }
  .live.down .dot { background: var(--bad); box-shadow: 0 0 0 3px var(--bad-bg); }
  .intro { color: var(--muted); font-size: 14px; margin: 6px 0 16px; }
  .toolbar { display: flex; gap: 8px; margin-bottom: 8px; }
  .toolbar input {
    flex: 1; min-width: 0; font: inherit; padding: 10px 12px; border-radius: 10px;
    border: 1px solid var(--line); background: var(--card); color: var(--text);
  }
  .toolbar input:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
  button {
    font: inherit; font-weight: 600; cursor: pointer; border-radius: 10px; padding: 9px 14px;
    border: 1px solid var(--line); background: var(--card); color: var(--text);
  }
  button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); min-width: 92px; }
  button.primary.done { background: var(--ok); border-color: var(--ok); color: #fff; }
  .count { font-size: 13px; color: var(--muted); margin: 4px 2px 10px; min-height: 1em; }
  .banner { display: none; background: var(--bad-bg); color: var(--bad); border-radius: 10px; padding: 10px 12px; margin-bottom: 12px; font-size: 14px; }
  .banner.show { display: block; }
  ol { list-style: none; margin: 0; padding: 0; display: grid; gap: 12px; }
  .msg { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 14px 16px; }
  .msg.new { animation: flash 1.6s ease-out; }
  @keyframes flash { from { box-shadow: 0 0 0 3px var(--accent); } to { box-shadow: 0 0 0 0 transparent; } }
  .top { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; }
  .recipient { font-weight: 650; word-break: break-all; margin-right: auto; }
  .badge { font-size: 12px; font-weight: 600; border-radius: 999px; padding: 2px 9px; background: var(--bg); color: var(--muted); border: 1px solid var(--line); white-space: nowrap; }
  .status-sent { background: var(--ok-bg); color: var(--ok); border-color: transparent; }
  .status-captured { background: var(--info-bg); color: var(--info); border-color: transparent; }
  .status-queued, .status-sending { background: var(--warn-bg); color: var(--warn); border-color: transparent; }
  .status-failed { background: var(--bad-bg); color: var(--bad); border-color: transparent; }
  .meta { color: var(--muted); font-size: 13px; margin-top: 4px; }
  .codebox { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 14px; margin-top: 12px; }
  .code {
    font: 700 32px/1.1 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
    letter-spacing: 0.16em; background: var(--code-bg); border-radius: 10px; padding: 8px 14px;
    user-select: all; -webkit-user-select: all;
  }
  .code.expired { opacity: 0.45; text-decoration: line-through; text-decoration-thickness: 2px; }
  .code.none { font-family: inherit; font-style: italic; font-weight: 500; font-size: 14px; line-height: 1.4; letter-spacing: 0; color: var(--muted); background: none; padding: 0; }
  .expiry { font-size: 13px; color: var(--muted); }
  .reason { font-size: 13px; color: var(--muted); margin-top: 10px; word-break: break-word; }
  details { margin-top: 10px; font-size: 13px; }
  summary { cursor: pointer; color: var(--muted); }
  pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); border-radius: 8px; padding: 10px; margin: 8px 0 0; font-size: 13px; }
  .preview .widths { display: flex; gap: 6px; margin-top: 8px; }
  .preview .widths button { font-size: 12px; padding: 4px 10px; }
  .preview .widths button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
  .preview iframe { display: block; width: 100%; height: 560px; margin-top: 8px; border: 1px solid var(--line); border-radius: 8px; background: #ffffff; }
  .preview.phone iframe { width: 375px; max-width: 100%; }
  .empty { background: var(--card); border: 1px dashed var(--line); border-radius: 14px; padding: 22px 18px; }
  .empty h2 { font-size: 17px; margin: 0 0 6px; }
  .empty p { margin: 6px 0; color: var(--muted); font-size: 14px; }
  .empty pre.cmd { font-size: 12.5px; white-space: pre; word-break: normal; overflow-x: auto; }
  a { color: var(--accent); }
  .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  @media (max-width: 480px) {
    main { padding: 14px 10px 40px; }
    .code { font-size: 28px; letter-spacing: 0.12em; }
    .msg { padding: 12px; }
  }
</style>
</head>
<body>
<main>
  <header>
    <h1>Dev inbox <small>panic-api · development only</small></h1>
    <div class="live" id="live" role="status"><span class="dot"></span><span id="live-text">connecting…</span></div>
  </header>
  <p class="intro">Every email and SMS the service sends or captures, newest first, with its code. Refreshes every 2 s.</p>
  <div class="banner" id="banner" role="alert"></div>
  <form class="toolbar" id="filter-form" role="search" autocomplete="off">
    <label class="sr" for="to">Recipient</label>
    <input id="to" name="to" type="search" inputmode="email" spellcheck="false" placeholder="Filter by email or phone">
    <button type="button" id="clear">Clear</button>
  </form>
  <div class="count" id="count"></div>
  <ol id="list" aria-label="Messages"></ol>
  <div class="empty" id="empty" hidden></div>
  <div class="sr" id="announce" aria-live="polite"></div>
</main>
<script>
(function () {
  'use strict';
  var POLL_MS = 2000;
  var PURPOSES = ${inlineJson(Object.fromEntries(Object.entries(PURPOSES).map(([k, v]) => [k, v.label])))};
  var LOCALES = ${inlineJson(LOCALES)};
  var STATUS_HELP = ${inlineJson(Object.fromEntries(Object.entries(MESSAGE_STATUSES).map(([k, v]) => [k, v.help])))};

  var list = document.getElementById('list');
  var empty = document.getElementById('empty');
  var count = document.getElementById('count');
  var banner = document.getElementById('banner');
  var live = document.getElementById('live');
  var liveText = document.getElementById('live-text');
  var input = document.getElementById('to');
  var announce = document.getElementById('announce');
  var cards = new Map();
  var firstLoad = true;
  var timer = null;
  var inflight = null;
  var lastMessages = [];

  input.value = new URLSearchParams(location.search).get('to') || '';

  /** Builds an element; text goes in with textContent only. */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function clock(d) { return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  function ago(d) {
    var s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return d.toLocaleDateString();
  }
  function expiry(iso) {
    if (!iso) return { text: '', expired: false };
    var left = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (left <= 0) return { text: 'expired at ' + clock(new Date(iso)), expired: true };
    if (left < 60) return { text: 'expires in ' + left + ' s', expired: false };
    return { text: 'expires in ' + Math.ceil(left / 60) + ' min (' + clock(new Date(iso)) + ')', expired: false };
  }

  /** Copies text: the async clipboard API where allowed, else a selected hidden textarea. */
  function copyText(text) {
    function fallback() {
      var area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.setAttribute('aria-hidden', 'true');
      area.style.position = 'fixed';
      area.style.top = '0';
      area.style.left = '0';
      area.style.width = '1px';
      area.style.height = '1px';
      area.style.opacity = '0';
      document.body.appendChild(area);
      area.focus();
      area.select();
      area.setSelectionRange(0, text.length);
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(area);
      return ok ? Promise.resolve('execCommand') : Promise.reject(new Error('copy refused'));
    }
    if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return 'clipboard'; }, fallback);
    }
    return fallback();
  }

  function onCopy(button, code) {
    copyText(code).then(function (how) {
      // What was copied, for people and for tests where the clipboard cannot be read back.
      document.documentElement.setAttribute('data-last-copied', code);
      document.documentElement.setAttribute('data-copy-method', how);
      button.textContent = 'Copied ✓';
      button.classList.add('done');
      announce.textContent = 'Copied ' + code;
    }, function () {
      button.textContent = 'Select it';
      announce.textContent = 'Copy is blocked here: select the code and copy it by hand.';
    });
    clearTimeout(button._reset);
    button._reset = setTimeout(function () {
      button.textContent = 'Copy';
      button.classList.remove('done');
    }, 1800);
  }

  function buildCard(m) {
    var li = el('li', 'msg');
    li.setAttribute('data-id', m.id);
    var top = el('div', 'top');
    var parts = {
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
      preview: el('details', 'preview')
    };
    parts.copy.type = 'button';
    parts.copy.addEventListener('click', function () {
      if (li._code) onCopy(parts.copy, li._code);
    });
    top.append(parts.recipient, parts.channel, parts.purpose, parts.locale, parts.status);
    var box = el('div', 'codebox');
    box.append(parts.code, parts.copy, parts.expiry);
    parts.details.append(el('summary', '', 'Message text'), parts.body);
    buildPreview(parts.preview, m.id);
    li.append(top, parts.meta, box, parts.reason, parts.details, parts.preview);
    li._parts = parts;
    return li;
  }

  /**
   * The email as a mail client shows it, at a phone's width or a desktop client's: a sandboxed frame
   * (no script, its own origin) loaded when first opened.
   */
  function buildPreview(details, id) {
    var frame = el('iframe');
    frame.setAttribute('sandbox', '');
    frame.title = 'Email preview';
    var widths = el('div', 'widths');
    [['Phone', true], ['Desktop', false]].forEach(function (w) {
      var button = el('button', '', w[0]);
      button.type = 'button';
      button.setAttribute('aria-pressed', String(w[1]));
      button.addEventListener('click', function () {
        details.classList.toggle('phone', w[1]);
        widths.querySelectorAll('button').forEach(function (b) { b.setAttribute('aria-pressed', String(b === button)); });
      });
      widths.append(button);
    });
    details.classList.add('phone');
    details.append(el('summary', '', 'Email preview'), widths, frame);
    details.addEventListener('toggle', function () {
      if (!details.open || frame.src) return;
      var token = new URLSearchParams(location.search).get('token');
      frame.src = '/dev/inbox/messages/' + encodeURIComponent(id) + '/html' + (token ? '?token=' + encodeURIComponent(token) : '');
    });
  }

  function updateCard(li, m) {
    var p = li._parts;
    li._code = m.otp || '';
    p.recipient.textContent = m.recipient;
    p.channel.textContent = m.channel === 'sms' ? 'SMS' : 'Email';
    p.purpose.textContent = PURPOSES[m.purpose] || m.purpose;
    p.locale.textContent = m.locale || '';
    p.locale.title = m.locale ? 'Written in ' + (LOCALES[m.locale] || m.locale) : '';
    p.locale.hidden = !m.locale;
    p.status.textContent = m.status;
    p.status.className = 'badge status-' + (STATUS_HELP[m.status] ? m.status : 'other');
    p.status.title = STATUS_HELP[m.status] || '';
    var created = new Date(m.created_at);
    var meta = clock(created) + ' · ' + ago(created);
    if (m.subject) meta += ' · ' + m.subject;
    p.meta.textContent = meta;
    p.meta.title = created.toString();
    var exp = expiry(m.expires_at);
    if (m.otp) {
      p.code.textContent = m.otp;
      p.code.className = 'code' + (exp.expired ? ' expired' : '');
      p.code.setAttribute('aria-label', 'Code ' + m.otp.split('').join(' '));
      p.copy.hidden = false;
      p.copy.title = 'Copy the code for ' + m.recipient;
    } else {
      p.code.textContent = 'no code kept for this message';
      p.code.className = 'code none';
      p.code.removeAttribute('aria-label');
      p.copy.hidden = true;
    }
    p.expiry.textContent = exp.text;
    p.reason.textContent = m.last_error ? (m.status === 'captured' ? 'Captured because: ' : 'Last error: ') + m.last_error : '';
    p.reason.hidden = !m.last_error;
    p.body.textContent = m.body_text || '';
    p.details.hidden = !m.body_text;
    p.preview.hidden = !m.has_html;
  }

  function renderEmpty() {
    empty.replaceChildren();
    var filter = input.value.trim();
    if (filter) {
      empty.append(el('h2', '', 'No messages to ' + filter));
      empty.append(el('p', '', 'Nothing was sent to this recipient yet (matching ignores case; phone numbers match in any common format).'));
      var all = el('button', '', 'Show all messages');
      all.type = 'button';
      all.addEventListener('click', clearFilter);
      empty.append(all);
      return;
    }
    empty.append(el('h2', '', 'No messages yet'));
    empty.append(el('p', '', 'Codes appear here within a second of being issued. To get one, register an account through the API:'));
    var lines = [
      'curl -X POST ' + location.origin + '/api/v1/auth/register \\\\',
      '  -H "content-type: application/json" \\\\',
      '  -d \\'{"email": "you@example.com", "phone": "+27825550123",',
      '       "first_name": "Ada", "last_name": "Lovelace", "password": "correct horse battery"}\\''
    ];
    empty.append(el('pre', 'cmd', lines.join('\\n')));
    var p = el('p');
    p.append('Or try it in the API docs at ');
    var link = el('a', '', '/docs');
    link.href = '/docs';
    p.append(link, '. Resend, phone verification, password reset and unlock codes show up here too.');
    empty.append(p);
  }

  function render(messages) {
    lastMessages = messages;
    var seen = new Set();
    messages.forEach(function (m, i) {
      seen.add(m.id);
      var li = cards.get(m.id);
      if (!li) {
        li = buildCard(m);
        cards.set(m.id, li);
        if (!firstLoad) {
          li.classList.add('new');
          // Drop the class once played: moving the card later must not replay the flash.
          li.addEventListener('animationend', function () { li.classList.remove('new'); }, { once: true });
        }
      }
      updateCard(li, m);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    cards.forEach(function (li, id) {
      if (!seen.has(id)) { li.remove(); cards.delete(id); }
    });
    var filter = input.value.trim();
    count.textContent = messages.length
      ? messages.length + (messages.length === 1 ? ' message' : ' messages') + (filter ? ' to ' + filter : '') + (messages.length >= 100 ? ' (latest 100)' : '')
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
    var controller = new AbortController();
    inflight = controller;
    var filter = input.value.trim();
    var url = '/dev/inbox/messages' + (filter ? '?to=' + encodeURIComponent(filter) : '');
    // With DEV_INBOX_TOKEN set the page is opened as /dev/inbox?token=…, and passes it on.
    var headers = { accept: 'application/json' };
    var token = new URLSearchParams(location.search).get('token');
    if (token) headers['x-dev-inbox-token'] = token;
    fetch(url, { headers: headers, cache: 'no-store', signal: controller.signal })
      .then(function (res) {
        if (!res.ok) {
          return res.json().catch(function () { return null; }).then(function (b) {
            var msg = b && b.error && b.error.message ? b.error.message : 'HTTP ' + res.status;
            throw new Error(res.status === 404 ? 'The dev inbox is off: the server is not running with APP_ENV=development.' : msg);
          });
        }
        return res.json();
      })
      .then(function (data) {
        if (controller !== inflight) return;
        banner.classList.remove('show');
        setLive(true, 'live · updated ' + clock(new Date()));
        render(data.messages || []);
      })
      .catch(function (err) {
        if (err && err.name === 'AbortError') return;
        banner.textContent = (err && err.message && err.message.indexOf('dev inbox') >= 0)
          ? err.message
          : 'Cannot reach the server (' + (err && err.message ? err.message : 'network error') + '). Is it running? Retrying every 2 s.';
        banner.classList.add('show');
        setLive(false, 'offline · retrying');
        if (firstLoad) render([]);
      })
      .then(function () {
        if (controller === inflight) { inflight = null; schedule(); }
      });
  }

  function syncUrl() {
    var filter = input.value.trim();
    var params = new URLSearchParams(location.search);
    if (filter) params.set('to', filter); else params.delete('to');
    var qs = params.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
  }

  var debounce = null;
  input.addEventListener('input', function () {
    clearTimeout(debounce);
    debounce = setTimeout(function () { syncUrl(); refresh(); }, 250);
  });
  document.getElementById('filter-form').addEventListener('submit', function (e) {
    e.preventDefault();
    clearTimeout(debounce);
    syncUrl();
    refresh();
  });
  function clearFilter() {
    input.value = '';
    syncUrl();
    refresh();
    input.focus();
  }
  document.getElementById('clear').addEventListener('click', clearFilter);
  window.addEventListener('popstate', function () {
    input.value = new URLSearchParams(location.search).get('to') || '';
    refresh();
  });
  // Keep relative times and expiry fresh even while the server is unreachable.
  setInterval(function () { if (lastMessages.length) render(lastMessages); }, 15000);

  refresh();
})();
</script>
</body>
</html>
`;
