// Find a person: their account, what blocks a new code now, the diagnosis, each recent code's road
// across channels as a timeline, and the actions support can take (each confirmed first). Everything
// comes from the console's API, GET /console/api/why and the admin actions, with this session.
import { ago, api, channelLabel, duration, el, fail, say, vocabulary, when, wireSignOut } from './common.js';

wireSignOut();

const form = document.getElementById('find');
const input = document.getElementById('who');
const result = document.getElementById('result');
const dialog = document.getElementById('confirm');

/** What was looked up last, as typed: a change refreshes it. */
let current;

const purposeLabel = (purpose) => vocabulary.purposes?.[purpose]?.label ?? purpose;
const enc = encodeURIComponent;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const who = input.value.trim();
  if (who.length < 3) {
    fail(new Error('Type an email address or a phone number (at least 3 characters).'));
    input.focus();
    return;
  }
  show(who);
});

const asked = new URLSearchParams(location.search).get('to');
if (asked) {
  input.value = asked;
  show(asked);
}

/**
 * Looks a person up by what was typed, then the account's other address too (an email finds the
 * phone's story, and the other way round), and draws it all. `done` is said instead of "Found …".
 */
async function show(who, done) {
  say(`Looking up ${who}…`);
  try {
    const first = await api('GET', `/console/api/why?to=${enc(who)}`);
    const reports = [first];
    const account = first.account;
    if (account) {
      const other = first.channel === 'email' ? account.phone : account.email;
      if (other) reports.push(await api('GET', `/console/api/why?to=${enc(other)}`));
    }
    reports.sort((a, b) => (a.channel === 'email' ? -1 : 0) - (b.channel === 'email' ? -1 : 0));
    current = who;
    history.replaceState(null, '', `/console?to=${enc(who)}`);
    result.replaceChildren(...page(account, reports));
    say(
      done ?? (account ? `Found ${account.first_name} ${account.last_name}.` : `No account has ${first.destination}.`),
    );
  } catch (err) {
    fail(err);
  }
}

function page(account, reports) {
  if (!account) {
    const [r] = reports;
    return [
      el(
        'section',
        { class: 'card', 'aria-labelledby': 'no-account' },
        el('h2', { id: 'no-account' }, `No account has ${r.destination}`),
        el('p', {}, r.diagnosis.cause),
        el('p', {}, el('strong', {}, 'What to do: '), r.diagnosis.fix),
      ),
      ...(r.messages.length ? [destination(r, undefined)] : []),
    ];
  }
  return [accountCard(account), actions(account), ...reports.map((r) => destination(r, account))];
}

const badge = (ok, yes, no) => el('span', { class: `badge ${ok ? 'ok' : 'warn'}` }, ok ? yes : no);

const fact = (term, ...value) => [el('dt', {}, term), el('dd', {}, ...value)];

function accountCard(a) {
  return el(
    'section',
    { class: 'card', 'aria-labelledby': 'account-title' },
    el('h2', { id: 'account-title' }, `${a.first_name} ${a.last_name}`),
    el(
      'dl',
      { class: 'facts' },
      fact('Email', a.email, ' ', badge(a.email_verified, 'verified', 'not verified')),
      fact('Phone', a.phone, ' ', badge(a.phone_verified, 'verified', 'not verified')),
      fact('Account created', when(a.created_at), ` (${ago(a.created_at)})`),
      fact('Language of messages', vocabulary.locales?.[a.locale] ?? a.locale),
      fact('Signed in on', a.live_sessions === 1 ? '1 device' : `${a.live_sessions} devices`),
      fact('Account id', el('code', {}, a.id)),
    ),
  );
}

/** The purpose a new code most likely needs: what the account has not proven yet, else a sign-in. */
const likelyPurpose = (a) =>
  !a.email_verified ? 'email_verification' : !a.phone_verified ? 'phone_verification' : 'login';

function actions(a) {
  const purposes = Object.keys(vocabulary.purposes ?? {});
  const purpose = el(
    'select',
    { id: 'code-purpose', name: 'purpose' },
    purposes.map((p) => el('option', { value: p, selected: p === likelyPurpose(a) }, purposeLabel(p))),
  );
  const channel = el('select', { id: 'code-channel', name: 'channel' });
  const fillChannels = () => {
    const keep = channel.value;
    channel.replaceChildren(
      ...(vocabulary.purposes?.[purpose.value]?.channels ?? []).map((c) =>
        el('option', { value: c, selected: c === keep }, channelLabel(c)),
      ),
    );
  };
  purpose.addEventListener('change', fillChannels);
  fillChannels();

  const send = el(
    'form',
    { class: 'action', 'aria-labelledby': 'send-title' },
    el('h3', { id: 'send-title' }, 'Send a new code'),
    el(
      'p',
      { class: 'help' },
      "To the person's own email or phone, by the channel they name; it replaces their live code of that purpose. Their limits apply.",
    ),
    el(
      'div',
      { class: 'row' },
      el('div', { class: 'field' }, el('label', { for: 'code-purpose' }, 'Code for'), purpose),
      el('div', { class: 'field' }, el('label', { for: 'code-channel' }, 'By'), channel),
    ),
    el('button', { type: 'submit' }, 'Send a new code…'),
  );
  send.addEventListener('submit', async (event) => {
    event.preventDefault();
    const to = channel.value === 'email' ? a.email : a.phone;
    const what = `a new ${purposeLabel(purpose.value).toLowerCase()} code by ${channelLabel(channel.value)} to ${to}`;
    if (!(await confirmed(`Send ${what}?`, 'Send the code'))) return;
    await act(
      () => api('POST', `/console/api/users/${enc(a.id)}/codes`, { purpose: purpose.value, channel: channel.value }),
      (r) => `Sent ${what}; it works until ${new Date(r.expires_at).toLocaleTimeString()}.`,
    );
  });

  const end = el(
    'form',
    { class: 'action', 'aria-labelledby': 'end-title' },
    el('h3', { id: 'end-title' }, 'End every session'),
    el(
      'p',
      { class: 'help' },
      `Signed in on ${a.live_sessions === 1 ? '1 device' : `${a.live_sessions} devices`}: each will have to sign in again (a lost or shared phone).`,
    ),
    el('button', { type: 'submit', class: 'danger' }, 'End all sessions…'),
  );
  end.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!(await confirmed(`End every session of ${a.first_name} ${a.last_name} (${a.email})?`, 'End the sessions')))
      return;
    await act(
      () => api('POST', `/console/api/users/${enc(a.id)}/sessions/revoke`),
      (r) => `Ended ${r.revoked === 1 ? '1 session' : `${r.revoked} sessions`}.`,
    );
  });

  return el(
    'section',
    { class: 'card', 'aria-labelledby': 'actions-title' },
    el('h2', { id: 'actions-title' }, 'Actions'),
    el('div', { class: 'actions' }, send, end),
  );
}

/** Runs an action, then shows the person again with what it did. */
async function act(call, words) {
  say('Working…');
  try {
    const answer = await call();
    await show(current, words(answer));
  } catch (err) {
    fail(err);
  }
}

/** Asks in a modal dialog (Escape or Cancel says no; the focus starts on Cancel). */
function confirmed(text, yes) {
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-yes').textContent = yes;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

function destination(r, account) {
  const id = `dest-${r.channel}`;
  const title = r.channel === 'email' ? `Email ${r.destination}` : `Phone ${r.destination}`;
  const elsewhere =
    account && r.account && r.account.id !== account.id
      ? el(
          'p',
          { class: 'notice' },
          `This number is also on another account (${r.account.email}); the codes below are every code sent to it.`,
        )
      : null;
  return el(
    'section',
    { class: 'card', 'aria-labelledby': id },
    el('h2', { id }, title),
    elsewhere,
    el('h3', {}, 'Why a code may not arrive'),
    el(
      'div',
      { class: 'diagnosis' },
      el('p', {}, el('strong', {}, 'What happened: '), r.diagnosis.cause),
      el('p', {}, el('strong', {}, 'What to do: '), r.diagnosis.fix),
      el('p', {}, el('strong', {}, 'What the person is told now: '), r.hint),
    ),
    el('h3', {}, 'Blocking a new code right now'),
    blocking(r),
    el('h3', {}, 'Codes of the last days'),
    codes(r),
  );
}

function blocking(r) {
  const rows = r.blocking.map((b) =>
    el(
      'tr',
      {},
      el('td', {}, b.limit),
      el('td', {}, el('code', {}, b.setting)),
      el('td', {}, duration(b.wait_seconds)),
    ),
  );
  const parts = [];
  if (r.suppression) {
    const s = r.suppression;
    const lift = el('button', { type: 'button', class: 'danger' }, 'Lift the suppression…');
    lift.addEventListener('click', async () => {
      if (
        !(await confirmed(
          `Take ${s.address} off the suppression list? Do it once the person has fixed their mailbox: codes to it will be sent again.`,
          'Lift the suppression',
        ))
      )
        return;
      await act(
        () => api('DELETE', `/console/api/suppressions/${enc(s.address)}`),
        () => `${s.address} is off the suppression list: new codes to it will be sent.`,
      );
    });
    parts.push(
      el(
        'div',
        { class: 'suppressed' },
        el(
          'p',
          {},
          el('strong', {}, 'Suppressed: '),
          `after a ${s.kind} `,
          when(s.created_at),
          `: ${s.reason}. Codes to it end unsent until it is lifted.`,
        ),
        lift,
      ),
    );
  }
  parts.push(
    rows.length
      ? el(
          'table',
          {},
          el('caption', { class: 'sr' }, `Limits blocking a new code to ${r.destination}`),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', { scope: 'col' }, 'Limit'),
              el('th', { scope: 'col' }, 'Setting'),
              el('th', { scope: 'col' }, 'Time left'),
            ),
          ),
          el('tbody', {}, rows),
        )
      : el(
          'p',
          {},
          r.suppression
            ? 'No limit blocks a new code besides the suppression.'
            : 'Nothing: a new code asked for now is sent.',
        ),
  );
  return parts;
}

/** The messages of a destination, newest first, grouped by the code they carry (the road: one code, a message per channel). */
function codes(r) {
  if (!r.messages.length) return el('p', {}, 'No code was sent here in the days the service keeps.');
  const groups = new Map();
  for (const m of r.messages) {
    const key = m.code_id ?? m.id;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(m);
  }
  return el(
    'ol',
    { class: 'codes' },
    [...groups.values()].map((ms) => el('li', {}, code(ms.sort((a, b) => a.created_at.localeCompare(b.created_at))))),
  );
}

function code(ms) {
  const first = ms[0];
  const used = ms.some((m) => m.events.some((e) => e.kind === 'verified'));
  const last = [...ms].reverse().find((m) => m.status !== 'withdrawn') ?? ms.at(-1);
  const road = ms.map((m) => `${channelLabel(m.channel)} (${m.status})`).join(' → ');
  const steps = ms
    .flatMap((m) => m.events.map((e, i) => ({ m, e, i })))
    .sort((x, y) => x.e.at.localeCompare(y.e.at) || x.i - y.i);
  return el(
    'article',
    { class: 'code' },
    el(
      'h4',
      {},
      `${purposeLabel(ms[0].purpose)} code, `,
      when(ms[0].created_at),
      ' ',
      used
        ? el('span', { class: 'badge ok' }, 'used')
        : el('span', { class: `badge ${bad(last.status) ? 'bad' : 'warn'}` }, last.status),
    ),
    el('p', { class: 'road' }, el('strong', {}, 'Road: '), road),
    el('p', {}, el('strong', {}, 'What the person was told: '), last.hint),
    el(
      'ol',
      { class: 'timeline', 'aria-label': 'Timeline, oldest first' },
      steps.map(({ m, e }) => step(m, e, m !== first)),
    ),
  );
}

const bad = (status) => ['undelivered', 'failed', 'bounced', 'suppressed', 'expired'].includes(status);

function step(m, e, later) {
  const failedStep = e.kind === 'attempt_failed' || (e.kind === 'receipt' && e.error) || e.kind === 'moved';
  return el(
    'li',
    { class: failedStep ? 'step warn' : e.kind === 'verified' ? 'step ok' : 'step' },
    el(
      'p',
      { class: 'what' },
      when(e.at),
      ' · ',
      el('span', { class: 'channel' }, channelLabel(m.channel)),
      ' · ',
      el('strong', {}, words(m, e, later)),
    ),
    e.error && e.kind !== 'moved' ? el('p', { class: 'detail' }, e.error) : null,
    e.diagnosis
      ? el(
          'dl',
          { class: 'diagnosed' },
          fact('In plain words', e.diagnosis.cause),
          fact('Fix', e.diagnosis.fix),
          fact('The person can', e.diagnosis.hint),
        )
      : null,
  );
}

/** An event in words; `later`: of a message the road added after the code's first. */
function words(m, e, later) {
  const by = e.provider ? ` (${e.provider})` : '';
  switch (e.kind) {
    case 'queued':
      return `Queued for ${channelLabel(m.channel)}${later ? ", the road's next channel (it goes if the earlier one is not delivered)" : ''}`;
    case 'attempt_failed':
      return `Attempt failed${by}${e.status === 'queued' ? ': it will be tried again' : ': no more tries'}${e.provider_code ? `, code ${e.provider_code}` : ''}`;
    case 'sent':
      return `Sent: accepted by the provider${by}${e.provider_id ? `, id ${e.provider_id}` : ''}`;
    case 'receipt':
      return `Receipt${by}: ${e.status}${e.provider_code ? `, code ${e.provider_code}` : ''}`;
    case 'moved':
      return `The code moved ${e.error ?? 'on'}`;
    case 'verified':
      return 'The person entered the code: it worked';
    default:
      return vocabulary.events?.[e.kind] ?? e.kind;
  }
}
