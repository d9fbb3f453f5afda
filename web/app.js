// The retention web UI: one page, hash routing, no framework.
//
// Routes: #/signin, #/ (challenges), #/challenges/ID (consent, retention info, forecast, admin
// tools, audit ledger), #/admin (jobs and ledger check). Every call goes to the JSON API of
// `retention serve` with `Authorization: Token <key>`; the key is kept in localStorage.
// All text from the server is inserted as text (textContent), never as HTML.

const TOKEN_KEY = 'retention.token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const DEFAULT_DAYS = 30;
const DEFAULT_NOTICE_DAYS = 14;

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  me: null,
  renderGeneration: 0,
  signInMessage: '',
};

// ---------------------------------------------------------------------------------------------
// DOM helpers

// Shows `message` in the form's error element and moves focus to the field to fix, if any.
function showError(element, message, field) {
  element.textContent = message;
  element.hidden = false;
  if (field) field.focus();
}

/** Creates an element. props: {class, text, on: {event: fn}, ...attributes}; children: nodes,
 *  strings (as text), arrays, null/false (skipped). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

function svg(tag, props = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'class') el.setAttribute('class', value);
    else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// ---------------------------------------------------------------------------------------------
// Formatting (UTC everywhere, as the server)

function parseDate(value) {
  if (!value) return null;
  // A bare date ("2026-11-30") is a UTC day.
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fmtDay(value) {
  const d = parseDate(value);
  return d ? d.toISOString().slice(0, 10) : '—';
}

function fmtDateTime(value) {
  const d = parseDate(value);
  if (!d) return '—';
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
}

function fmtRelative(value) {
  const d = parseDate(value);
  if (!d) return '';
  const days = Math.round((d.getTime() - Date.now()) / 86400000);
  if (days === 0) return 'today';
  if (days > 0) return days === 1 ? 'tomorrow' : `in ${days} days`;
  return days === -1 ? 'yesterday' : `${-days} days ago`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function fmtShortDay(value) {
  const d = parseDate(value);
  return d ? `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}` : '?';
}

function fmtBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function fmtLogDays(days) {
  return days === null || days === undefined ? 'never expire' : plural(days, 'day');
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, { method = 'GET', body, token = state.token, raw = false } = {}) {
  const headers = { Accept: raw ? 'text/csv, */*' : 'application/json' };
  if (token) headers.Authorization = `Token ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check your connection and try again.');
  }
  if (response.ok && raw) return response.blob();
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    let message = data && typeof data.error === 'string' ? data.error : '';
    if (!message) {
      message =
        {
          401: 'Your token was not accepted.',
          403: 'You are not allowed to do this.',
          404: 'Not found.',
          429: 'Too many requests; wait a moment and try again.',
        }[response.status] || `The server answered ${response.status} ${response.statusText}`.trim();
    }
    if (response.status === 401 && token && token === state.token) {
      signOut('Your session ended (the token is no longer valid). Sign in again.');
    }
    throw new ApiError(response.status, message);
  }
  return data;
}

const challengePath = (id, rest) => `/api/challenges/${encodeURIComponent(id)}/${rest}`;

// ---------------------------------------------------------------------------------------------
// Shell: header, toast, sign in / out

function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

function updateHeader() {
  const signedIn = Boolean(state.token && state.me);
  $('nav').hidden = !signedIn;
  $('user-box').hidden = !signedIn;
  $('nav-admin').hidden = !(signedIn && state.me.is_admin);
  $('current-user').textContent = signedIn
    ? `${state.me.username}${state.me.is_admin ? ' (admin)' : ''}`
    : '';
  const hash = location.hash || '#/';
  for (const link of document.querySelectorAll('nav a')) {
    const target = link.getAttribute('href');
    const current = target === '#/' ? hash === '#/' || hash.startsWith('#/challenges') : hash.startsWith(target);
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function signOut(message = '') {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.me = null;
  state.signInMessage = message;
  updateHeader();
  if (location.hash !== '#/signin') location.hash = '#/signin';
  else render();
}

function setMain(...children) {
  const main = $('main');
  main.replaceChildren(...children.flat());
  return main;
}

function setTitle(text) {
  document.title = text ? `${text} · Retention` : 'Retention';
}

function renderSignIn() {
  setTitle('Sign in');
  const error = h('p', { class: 'error', role: 'alert', testid: 'signin-error', hidden: !state.signInMessage },
    state.signInMessage);
  state.signInMessage = '';
  const input = h('input', {
    id: 'token-input', testid: 'token-input', type: 'password', autocomplete: 'off',
    spellcheck: 'false', required: true, 'aria-describedby': 'token-help',
  });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'signin-submit' }, 'Sign in');
  const form = h('form', {
    class: 'card narrow', testid: 'signin-form', novalidate: true,
    on: {
      submit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) {
          showError(error, 'Enter your API token.', input);
          return;
        }
        submit.disabled = true;
        submit.textContent = 'Signing in…';
        error.hidden = true;
        try {
          const me = await api('/api/me', { token });
          localStorage.setItem(TOKEN_KEY, token);
          state.token = token;
          state.me = me;
          updateHeader();
          location.hash = '#/';
        } catch (e) {
          showError(error, e.status === 401 ? 'This token was not accepted. Check it and try again.' : e.message, input);
        } finally {
          submit.disabled = false;
          submit.textContent = 'Sign in';
        }
      },
    },
  },
  h('h1', {}, 'Sign in'),
  h('div', { class: 'field' },
    h('label', { for: 'token-input' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' },
      'An admin creates one with ', h('code', {}, 'retention token create USERNAME'),
      '. It is kept in this browser until you sign out.')),
  error,
  h('div', { class: 'actions' }, submit));
  setMain(form);
  input.focus();
}

// ---------------------------------------------------------------------------------------------
// Router

async function render() {
  const generation = ++state.renderGeneration;
  const hash = location.hash || '#/';
  if (!state.token) {
    updateHeader();
    if (hash !== '#/signin') {
      location.hash = '#/signin';
      return;
    }
    renderSignIn();
    return;
  }
  if (hash === '#/signin') {
    location.hash = '#/';
    return;
  }
  if (!state.me) {
    try {
      state.me = await api('/api/me');
    } catch (e) {
      if (generation !== state.renderGeneration || !state.token) return;
      setMain(errorPanel(e.message, () => render()));
      return;
    }
    if (generation !== state.renderGeneration) return;
  }
  updateHeader();
  const isCurrent = () => generation === state.renderGeneration;
  let match;
  if (hash === '#/' || hash === '#/challenges' || hash === '#') {
    await renderChallenges(isCurrent);
  } else if ((match = /^#\/challenges\/(\d+)\/?$/.exec(hash))) {
    await renderChallenge(Number(match[1]), isCurrent);
  } else if (hash === '#/admin') {
    await renderAdmin(isCurrent);
  } else {
    setTitle('Not found');
    setMain(h('section', { class: 'card' }, h('h1', {}, 'Page not found'),
      h('p', {}, h('a', { href: '#/' }, 'Back to your challenges'))));
  }
}

function errorPanel(message, retry) {
  return h('section', { class: 'card' },
    h('h1', {}, 'Something went wrong'),
    h('p', { class: 'error', role: 'alert', testid: 'error-message' }, message),
    retry && h('button', { type: 'button', on: { click: retry } }, 'Try again'));
}

function loading(text = 'Loading…') {
  return h('p', { class: 'muted', role: 'status', testid: 'loading' }, text);
}

// ---------------------------------------------------------------------------------------------
// Challenges list

function badge(text, kind, testid) {
  return h('span', { class: `badge badge-${kind}`, testid }, text);
}

const ROLE_LABEL = { admin: 'admin', host: 'host', pending: 'host (pending)', participant: 'participant' };

async function renderChallenges(isCurrent) {
  setTitle('Challenges');
  setMain(h('h1', {}, 'Challenges'), loading());
  let data;
  try {
    data = await api('/api/challenges');
  } catch (e) {
    if (isCurrent()) setMain(errorPanel(e.message, () => render()));
    return;
  }
  if (!isCurrent()) return;
  const challenges = data.challenges || [];
  const intro = state.me.is_admin
    ? 'All challenges on the platform. Open one to see its retention consent, what will be deleted and when, and the admin tools.'
    : 'The challenges you host or take part in. Open one to see its retention consent and what will be deleted and when.';
  setMain(
    h('h1', {}, 'Challenges'),
    h('p', { class: 'lead' }, intro),
    challenges.length === 0
      ? h('p', { class: 'card', testid: 'challenge-empty' }, 'No challenges to show yet.')
      : h('ul', { class: 'challenge-list', testid: 'challenge-list' },
        challenges.map((c) =>
          h('li', { class: 'challenge-item', testid: 'challenge-item', 'data-challenge-id': c.id },
            h('a', { href: `#/challenges/${c.id}`, testid: 'challenge-link' },
              h('span', { class: 'challenge-title' }, c.title),
              h('span', { class: 'muted' }, ` #${c.id}`)),
            h('div', { class: 'badges' },
              badge(ROLE_LABEL[c.role] || c.role || 'viewer', 'role', 'challenge-role'),
              c.has_consent
                ? badge('consent: active', 'ok', 'challenge-consent')
                : badge('consent: not provided', 'neutral', 'challenge-consent'),
              c.legal_hold && badge('legal hold', 'warn', 'challenge-hold'),
              c.approved === false && badge('not approved', 'neutral', 'challenge-unapproved'))))),
  );
}

// ---------------------------------------------------------------------------------------------
// Challenge page

async function loadChallenge(id) {
  const status = await api(challengePath(id, 'retention-consent-status/'));
  const isAdmin = Boolean(state.me && state.me.is_admin);
  const privileged = Boolean(status.is_host || isAdmin);
  const settle = (p) => p.then((value) => ({ value }), (error) => ({ error }));
  const [info, forecast, audit, verify] = await Promise.all([
    privileged ? settle(api(challengePath(id, 'retention-info/'))) : null,
    privileged ? settle(api(challengePath(id, 'forecast?weeks=12'))) : null,
    privileged ? settle(api(`/api/audit?challenge_id=${encodeURIComponent(id)}&limit=100`)) : null,
    isAdmin ? settle(api('/api/audit/verify')) : null,
  ]);
  return { id, status, info, forecast, audit, verify, isAdmin, privileged };
}

async function renderChallenge(id, isCurrent, focusTestId = null) {
  setTitle(`Challenge ${id}`);
  const shown = $('challenge-page');
  if (!shown || shown.dataset.challengeId !== String(id)) setMain(h('p', {}, h('a', { href: '#/' }, '← All challenges')), loading());
  let data;
  try {
    data = await loadChallenge(id);
  } catch (e) {
    if (isCurrent()) {
      setMain(h('p', {}, h('a', { href: '#/' }, '← All challenges')),
        e.status === 404
          ? h('section', { class: 'card' }, h('h1', {}, 'Challenge not found'),
            h('p', { class: 'error', role: 'alert', testid: 'error-message' }, e.message))
          : errorPanel(e.message, () => render()));
    }
    return;
  }
  if (!isCurrent()) return;
  const page = new ChallengePage(data, isCurrent);
  setTitle(data.status.challenge_title);
  setMain(page.element);
  if (focusTestId) $(focusTestId)?.focus();
}

class ChallengePage {
  constructor(data, isCurrent) {
    this.data = data;
    this.isCurrent = isCurrent;
    this.pending = false;
    this.element = this.build();
  }

  get id() {
    return this.data.id;
  }

  get info() {
    return this.data.info && this.data.info.value ? this.data.info.value : null;
  }

  /** Reloads everything and re-renders in place; keeps focus on `focusTestId` if given. */
  async refresh(focusTestId) {
    await renderChallenge(this.id, this.isCurrent, focusTestId);
  }

  build() {
    const { status } = this.data;
    const info = this.info;
    const hold = info && info.current_policies && info.current_policies.legal_hold;
    return h('div', { class: 'challenge-page', testid: 'challenge-page', 'data-challenge-id': this.id },
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← All challenges')),
      h('h1', { testid: 'challenge-title' }, status.challenge_title),
      h('div', { class: 'badges' },
        badge(status.is_host ? 'you host this challenge' : this.data.isAdmin ? 'admin view' : 'participant view', 'role', 'challenge-role'),
        hold && badge('legal hold: nothing is deleted', 'warn', 'challenge-hold')),
      h('div', { class: 'grid' },
        this.buildConsent(),
        info ? this.buildInfo(info) : this.data.info && this.sectionError('Retention details', this.data.info.error),
        this.data.forecast && (this.data.forecast.value
          ? this.buildForecast(this.data.forecast.value)
          : this.sectionError('Deletion forecast', this.data.forecast.error)),
        this.data.privileged && this.buildKeep(),
        this.data.isAdmin && this.buildAdmin(info),
        this.data.audit && this.buildAudit()));
  }

  sectionError(title, error) {
    return h('section', { class: 'card' }, h('h2', {}, title),
      h('p', { class: 'error', role: 'alert' }, error ? error.message : 'Could not load.'));
  }

  // -- consent ----------------------------------------------------------------------------

  buildConsent() {
    const { status } = this.data;
    const has = Boolean(status.has_consent);
    const canChange = Boolean(status.is_host);
    const labelId = nextId('consent-label');
    this.statusEl = h('p', { class: `consent-status ${has ? 'is-on' : 'is-off'}`, testid: 'consent-status', id: nextId('consent-status'), 'aria-live': 'polite' },
      has ? 'Retention consent: active' : 'Retention consent: not provided');
    this.errorEl = h('p', { class: 'error', role: 'alert', testid: 'error-message', hidden: true });
    this.pendingEl = h('span', { class: 'pending', testid: 'consent-pending', role: 'status', hidden: true }, 'Saving…');

    let control = null;
    if (canChange) {
      this.toggle = h('button', {
        type: 'button', role: 'switch', class: 'switch', testid: 'consent-toggle',
        'aria-checked': String(has), 'aria-labelledby': labelId, 'aria-describedby': this.statusEl.id,
        on: { click: () => this.openConsentDialog(!this.data.status.has_consent) },
      }, h('span', { class: 'switch-thumb', 'aria-hidden': 'true' }));
      control = h('div', { class: 'consent-control' },
        this.toggle,
        h('span', { id: labelId, class: 'switch-label' }, 'Allow deletion of submission files after the retention period'),
        this.pendingEl);
    }

    const details = [];
    if (has && status.consent_by !== undefined) {
      details.push(
        ['Consented by', h('span', { testid: 'consent-by' }, status.consent_by || '—')],
        ['Since', h('span', { testid: 'consent-date' }, fmtDateTime(status.consent_date))],
        ['Notes', h('span', { testid: 'consent-notes', class: 'notes' }, status.retention_notes || '—')]);
    }

    return h('section', { class: 'card consent-card', testid: 'consent-card', 'aria-labelledby': 'consent-heading' },
      h('h2', { id: 'consent-heading' }, 'Retention consent'),
      this.statusEl,
      control,
      !canChange && h('p', { class: 'help', testid: 'consent-readonly-note' },
        this.data.isAdmin
          ? 'Only the hosts of this challenge can give or withdraw consent.'
          : 'Only the hosts of this challenge can give or withdraw consent. Without it, nothing is ever deleted.'),
      this.errorEl,
      details.length > 0 && dl(details),
      h('p', { class: 'help' },
        has
          ? 'The large files of submissions to private phases are deleted after the retention period. Scores and leaderboards stay. You can withdraw at any time.'
          : 'Without consent nothing is ever deleted.'));
  }

  openConsentDialog(grant) {
    if (this.pending) return;
    const dialog = $('consent-dialog');
    const info = this.info;
    const days = info?.calculated_retention?.retention_days ?? info?.current_policies?.retention_days ?? DEFAULT_DAYS;
    const noticeDays = info?.current_policies?.notice_days ?? DEFAULT_NOTICE_DAYS;
    const title = this.data.status.challenge_title;
    const notesField = $('consent-notes-field', dialog);
    const notes = $('consent-notes-input', dialog);
    const confirm = $('dialog-confirm', dialog);
    const cancel = $('dialog-cancel', dialog);
    const dialogError = $('dialog-error', dialog);

    $('consent-dialog-title', dialog).textContent = grant
      ? `Give retention consent for “${title}”?`
      : `Withdraw retention consent for “${title}”?`;
    const body = $('consent-dialog-body', dialog);
    if (grant) {
      const privatePhases = (info?.phases || []).filter((p) => !p.is_public && p.end_date);
      body.replaceChildren(
        h('p', {}, 'With your consent the platform deletes the large files of this challenge’s submissions once they are no longer needed:'),
        h('dl', { class: 'explain' },
          h('dt', {}, 'What is deleted'),
          h('dd', { testid: 'dialog-deleted' }, 'The files of submissions to ', h('strong', {}, 'private phases'),
            ': input files, stdout and stderr logs, environment logs, result and metadata files.'),
          h('dt', {}, 'What is kept'),
          h('dd', { testid: 'dialog-kept' }, 'Every submission row, its scores and the leaderboards. Nothing of public phases is deleted.'),
          h('dt', {}, 'When'),
          h('dd', { testid: 'dialog-when' },
            `${plural(days, 'day')} after each private phase ends. `,
            noticeDays > 0 ? `The hosts get a warning e-mail ${plural(noticeDays, 'day')} before any deletion. ` : '',
            privatePhases.length > 0
              ? `For this challenge: ${privatePhases.map((p) => `${p.name} from ${fmtDay(addDays(p.end_date, days))}`).join('; ')} at the earliest.`
              : ''),
          h('dt', {}, 'Logs'),
          h('dd', {}, 'The worker logs of this challenge get a matching retention period.'),
          h('dt', {}, 'Withdrawing'),
          h('dd', { testid: 'dialog-withdraw' }, 'You can withdraw consent at any time; withdrawing stops everything that is pending at once.')));
    } else {
      body.replaceChildren(
        h('p', {}, 'If you withdraw consent:'),
        h('ul', {},
          h('li', {}, 'nothing more is deleted: every scheduled deletion and pending warning e-mail is cancelled at once;'),
          h('li', {}, 'the worker logs go back to never expiring;'),
          h('li', {}, 'files that were already deleted cannot be brought back;'),
          h('li', {}, 'you can give consent again at any time.')));
    }
    notesField.hidden = !grant;
    notes.value = grant ? (this.data.status.retention_notes || '') : '';
    dialogError.hidden = true;
    confirm.textContent = grant ? 'Give consent' : 'Withdraw consent';
    confirm.disabled = false;
    cancel.disabled = false;
    confirm.removeAttribute('aria-busy');

    const controller = new AbortController();
    const { signal } = controller;
    const close = () => {
      controller.abort();
      if (dialog.open) dialog.close();
      this.toggle?.focus();
    };
    cancel.addEventListener('click', () => {
      if (!this.pending) close();
    }, { signal });
    dialog.addEventListener('cancel', (event) => {
      // Escape: same as Cancel, except while the request runs.
      event.preventDefault();
      if (!this.pending) close();
    }, { signal });
    confirm.addEventListener('click', () => this.submitConsent(grant, notes.value.trim(), close), { signal });
    dialog.showModal();
    (grant ? notes : cancel).focus();
  }

  async submitConsent(grant, notes, close) {
    if (this.pending) return; // no double submit
    this.pending = true;
    const dialog = $('consent-dialog');
    const confirm = $('dialog-confirm', dialog);
    const cancel = $('dialog-cancel', dialog);
    const confirmText = confirm.textContent;
    confirm.disabled = true;
    cancel.disabled = true;
    confirm.setAttribute('aria-busy', 'true');
    confirm.textContent = grant ? 'Giving consent…' : 'Withdrawing…';
    this.errorEl.hidden = true;
    // Loading state on the page: the switch shows the requested position, busy and disabled.
    this.toggle.setAttribute('aria-checked', String(grant));
    this.toggle.setAttribute('aria-busy', 'true');
    this.toggle.disabled = true;
    this.pendingEl.hidden = false;
    const body = { consent: grant };
    if (grant && notes) body.notes = notes;
    let result = null;
    let failure = null;
    try {
      result = await api(challengePath(this.id, 'update-retention-consent/'), { method: 'POST', body });
    } catch (e) {
      failure = e;
    }
    this.pending = false;
    confirm.disabled = false;
    cancel.disabled = false;
    confirm.removeAttribute('aria-busy');
    confirm.textContent = confirmText;
    close();
    this.toggle.removeAttribute('aria-busy');
    this.toggle.disabled = false;
    this.pendingEl.hidden = true;
    if (failure) {
      // Back to the real state, and say why.
      const real = Boolean(this.data.status.has_consent);
      this.toggle.setAttribute('aria-checked', String(real));
      this.errorEl.textContent = `Could not ${grant ? 'give' : 'withdraw'} consent: ${failure.message}`;
      this.errorEl.hidden = false;
      this.toggle.focus();
      return;
    }
    this.data.status.has_consent = grant;
    this.statusEl.textContent = grant ? 'Retention consent: active' : 'Retention consent: not provided';
    toast(result?.message || (grant ? 'Consent given.' : 'Consent withdrawn.'));
    await this.refresh('consent-toggle');
  }

  // -- retention details ------------------------------------------------------------------

  buildInfo(info) {
    const calc = info.calculated_retention || {};
    const pol = info.current_policies || {};
    const subs = info.submissions || {};
    const has = Boolean(info.retention_policy?.has_consent);
    const days = calc.retention_days ?? pol.retention_days;
    const override = pol.log_retention_days_override;
    const next = info.next_deletion_date;
    const rows = [
      ['Retention days (D)', h('span', {},
        h('strong', { testid: 'retention-days' }, days ?? '—'),
        override !== null && override !== undefined
          ? h('span', { class: 'muted', testid: 'retention-days-source' }, ` (admin override${pol.override_reason ? `: ${pol.override_reason}` : ''}; default ${pol.default_days ?? DEFAULT_DAYS})`)
          : h('span', { class: 'muted', testid: 'retention-days-source' }, ' (platform default)'))],
      ['Latest phase end', h('span', { testid: 'latest-phase-end' }, calc.latest_phase_end ? `${fmtDay(calc.latest_phase_end)} (${fmtRelative(calc.latest_phase_end)})` : 'no phase has an end date')],
      ['Next deletion', h('span', { testid: 'next-deletion-date' }, nextDeletionText(info, has))],
      ['Warning e-mail', `${plural(pol.notice_days ?? DEFAULT_NOTICE_DAYS, 'day')} before deletion`],
      ['Log group', h('code', { testid: 'log-group' }, calc.log_group || '—')],
      ['Log retention', h('span', { testid: 'log-retention' },
        `wanted: ${fmtLogDays(calc.log_retention_desired_days)}; applied: ${fmtLogDays(calc.log_retention_applied_days)}`)],
    ];
    if (pol.legal_hold) {
      rows.push(['Legal hold', h('span', { testid: 'info-legal-hold' }, `yes${pol.legal_hold_reason ? `: ${pol.legal_hold_reason}` : ''}`)]);
    }
    const counts = [
      ['Submissions', subs.total, 'count-total'],
      ['With a deletion date', subs.with_eligible_date, 'count-with-eligible-date'],
      ['Deletable now', subs.eligible_now, 'count-eligible-now'],
      ['Files deleted', subs.deleted, 'count-deleted'],
      ['On hold', subs.on_hold, 'count-on-hold'],
      ['Kept', subs.kept, 'count-kept'],
    ];
    const phases = info.phases || [];
    return h('section', { class: 'card info-card', testid: 'info-card', 'aria-labelledby': 'info-heading' },
      h('h2', { id: 'info-heading' }, 'What is deleted and when'),
      dl(rows),
      h('ul', { class: 'counts', 'aria-label': 'Submission counts' },
        counts.map(([label, value, testid]) =>
          h('li', {}, h('span', { class: 'count', testid }, value ?? 0), h('span', { class: 'count-label' }, label))),
        h('li', {}, h('span', { class: 'count', testid: 'bytes-stored' }, fmtBytes(subs.bytes_stored)),
          h('span', { class: 'count-label' }, 'Stored'))),
      phases.length > 0 && h('div', { class: 'table-wrap' },
        stackable(h('table', { testid: 'phases-table' },
          h('caption', {}, 'Phases'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Phase'), h('th', { scope: 'col' }, 'Ends'),
            h('th', { scope: 'col' }, 'Visibility'), h('th', { scope: 'col' }, 'Eligible from'))),
          h('tbody', {}, phases.map((p) => h('tr', { testid: 'phase-row' },
            h('th', { scope: 'row' }, p.name),
            h('td', {}, p.end_date ? fmtDay(p.end_date) : 'open-ended'),
            h('td', {}, p.is_public ? 'public' : 'private'),
            h('td', { testid: 'phase-deletable-from' }, p.retention_policy === 'keep' ? `never (kept${p.retention_policy_reason ? `: ${p.retention_policy_reason}` : ''})`
              : p.is_public ? 'never (public)' : !p.end_date ? 'never (no end date)'
              : !has ? 'never (no consent)'
              : `${fmtDay(addDays(p.end_date, p.retention_days ?? days))}${p.retention_days ? ` (phase: ${plural(p.retention_days, 'day')})` : ''}`))))))));
  }

  // -- forecast ---------------------------------------------------------------------------

  // What each scheduled sweep run of the coming weeks deletes (the projection of the schedule:
  // notices on their runs, then the sweep's runs), as a chart and a table.
  buildForecast(forecast) {
    const runs = (forecast.sweeps || []).map((r) => ({ run_at: r.run_at, submissions: r.submissions || 0, bytes: r.bytes || 0 }));
    const weeks = (forecast.weeks || []).length;
    const totalSubs = forecast.total_submissions ?? runs.reduce((a, r) => a + r.submissions, 0);
    const totalBytes = forecast.total_bytes ?? runs.reduce((a, r) => a + r.bytes, 0);
    const chartBox = h('div', { class: 'chart-box' });
    const draw = () => chartBox.replaceChildren(forecastChart(runs, chartBox.clientWidth || 640));
    draw();
    let lastWidth = 0;
    const observer = new ResizeObserver(() => {
      const w = chartBox.clientWidth;
      if (w && Math.abs(w - lastWidth) > 4) {
        lastWidth = w;
        draw();
      }
    });
    observer.observe(chartBox);
    return h('section', { class: 'card forecast-card', testid: 'forecast-card', 'aria-labelledby': 'forecast-heading' },
      h('h2', { id: 'forecast-heading' }, 'Deletion forecast'),
      h('p', { testid: 'forecast-total' },
        totalSubs > 0
          ? `${plural(totalSubs, 'submission')} (${fmtBytes(totalBytes)}) will be deleted by the scheduled sweeps of the next ${plural(weeks, 'week')}.`
          : runs.length > 0
            ? `Nothing will be deleted by the scheduled sweeps of the next ${plural(weeks, 'week')}.`
            : `No sweep is scheduled in the next ${plural(weeks, 'week')}.`),
      h('p', { testid: 'forecast-kept' },
        `${plural(forecast.kept_submissions ?? 0, 'submission')} kept (never deleted while kept).`),
      h('p', { class: 'legend', 'aria-hidden': 'true' },
        h('span', { class: 'swatch swatch-subs' }), 'submissions ',
        h('span', { class: 'swatch swatch-bytes' }), 'bytes'),
      chartBox,
      h('details', {},
        h('summary', {}, 'Show as a table'),
        h('div', { class: 'table-wrap' },
          h('table', { testid: 'forecast-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Sweep of'), h('th', { scope: 'col' }, 'Submissions'), h('th', { scope: 'col' }, 'Bytes'))),
            h('tbody', {}, runs.map((r) => h('tr', {},
              h('th', { scope: 'row' }, fmtDateTime(r.run_at)),
              h('td', {}, r.submissions),
              h('td', {}, `${fmtBytes(r.bytes)} (${r.bytes})`))))))));
  }

  // -- keep (R10) -------------------------------------------------------------------------

  // Hosts and admins search the challenge's submissions by id or participant and keep some with
  // a reason (never deleted while kept); a baseline is kept unless an admin releases it.
  buildKeep() {
    const queryId = nextId('keep-query');
    const reasonId = nextId('keep-reason');
    const query = h('input', { id: queryId, testid: 'keep-query', type: 'search', maxlength: 150, placeholder: 'id or participant' });
    const reason = h('input', { id: reasonId, testid: 'keep-reason', type: 'text', maxlength: 500 });
    const error = h('p', { class: 'error', role: 'alert', testid: 'keep-error', hidden: true });
    const results = h('div', { class: 'table-wrap', testid: 'keep-results', 'aria-live': 'polite' });
    const search = async () => {
      error.hidden = true;
      try {
        const page = await api(challengePath(this.id, `submissions?limit=50&q=${encodeURIComponent(query.value.trim())}`));
        results.replaceChildren(this.keepTable(page.submissions || [], reason, error));
      } catch (e) {
        showError(error, `Could not search: ${e.message}`);
      }
    };
    const form = h('form', { class: 'subform', testid: 'keep-form', novalidate: true },
      h('label', { for: queryId }, 'Submission id or participant'),
      h('div', { class: 'row' }, query, h('button', { type: 'submit', testid: 'keep-search' }, 'Search')),
      h('label', { for: reasonId }, 'Reason (required to keep or release)'),
      reason, error);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      search();
    });
    return h('section', { class: 'card keep-card', testid: 'keep-card', 'aria-labelledby': 'keep-heading' },
      h('h2', { id: 'keep-heading' }, 'Keep submissions'),
      h('p', { class: 'help' }, 'A kept submission is never deleted. Baselines are kept unless an admin releases them.'),
      form, results);
  }

  keepTable(rows, reason, error) {
    if (rows.length === 0) return h('p', { testid: 'keep-none' }, 'No submission found.');
    const act = async (row, verb) => {
      const why = reason.value.trim();
      if (!why) {
        showError(error, 'Give a reason first.', reason);
        return;
      }
      try {
        await api(challengePath(this.id, `submissions/${encodeURIComponent(row.id)}/${verb}`), { method: 'POST', body: { reason: why } });
        toast(verb === 'keep' ? `Submission ${row.id} kept.` : `Submission ${row.id} released.`);
        await this.refresh('keep-query');
      } catch (e) {
        showError(error, `Could not ${verb === 'keep' ? 'keep' : 'release'} submission ${row.id}: ${e.message}`);
      }
    };
    const state = (r) => r.is_artifact_deleted ? `files deleted ${fmtDay(r.artifact_deletion_date)}`
      : r.kept ? (r.is_baseline && !r.baseline_released && !r.keep_reason ? 'kept (baseline)' : `kept${r.keep_reason ? `: ${r.keep_reason}` : ''}`)
        : r.retention_eligible_date ? `eligible from ${fmtDay(r.retention_eligible_date)}` : 'not eligible';
    return stackable(h('table', { testid: 'keep-table' },
      h('caption', {}, 'Submissions'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'Participant'),
        h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Action'))),
      h('tbody', {}, rows.map((r) => {
        const baselineHeld = r.is_baseline && !r.baseline_released;
        const canRelease = r.kept && (!baselineHeld || this.data.isAdmin);
        const button = r.kept
          ? h('button', { type: 'button', testid: 'keep-release', disabled: !canRelease, 'data-submission-id': r.id },
            baselineHeld ? 'Release baseline' : 'Release')
          : h('button', { type: 'button', testid: 'keep-set', 'data-submission-id': r.id }, 'Keep');
        button.addEventListener('click', () => act(r, r.kept ? 'release' : 'keep'));
        return h('tr', { testid: 'keep-row', 'data-submission-id': r.id },
          h('th', { scope: 'row' }, String(r.id)),
          h('td', {}, r.participant),
          h('td', { testid: 'keep-state' }, state(r)),
          h('td', {}, button));
      }))));
  }

  // -- admin ------------------------------------------------------------------------------

  buildAdmin(info) {
    const pol = info?.current_policies || {};
    return h('section', { class: 'card admin-card', testid: 'admin-card', 'aria-labelledby': 'admin-heading' },
      h('h2', { id: 'admin-heading' }, 'Administration'),
      h('div', { class: 'admin-forms' },
        this.buildOverrideForm(pol),
        (info?.phases || []).length > 0 && this.buildPhasePolicyForm(info.phases),
        this.buildHoldForm(pol)),
      h('p', { class: 'help' }, 'Jobs can be run by hand on the ', h('a', { href: '#/admin' }, 'Admin page'), '.'));
  }

  buildOverrideForm(pol) {
    const override = pol.log_retention_days_override;
    const daysId = nextId('override-days');
    const reasonId = nextId('override-reason');
    const days = h('input', { id: daysId, testid: 'override-days', type: 'number', inputmode: 'numeric', min: 1, max: 3653, step: 1, value: override ?? '' });
    const reason = h('input', { id: reasonId, testid: 'override-reason', type: 'text', required: true, maxlength: 500, 'aria-required': 'true' });
    const error = h('p', { class: 'error', role: 'alert', testid: 'override-error', hidden: true });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'override-submit' }, 'Set override');
    const clear = h('button', {
      type: 'button', testid: 'override-clear', disabled: override === null || override === undefined,
      on: { click: () => send(null) },
    }, 'Clear override');
    let busy = false;
    const send = async (value) => {
      if (busy) return;
      error.hidden = true;
      const why = reason.value.trim();
      if (value !== null) {
        const n = Number(days.value);
        if (!days.value || !Number.isInteger(n) || n < 1 || n > 3653) {
          showError(error, 'Days must be a whole number from 1 to 3653.', days);
          return;
        }
        value = n;
      }
      if (!why) {
        showError(error, 'A reason is required; it is kept in the audit ledger.', reason);
        return;
      }
      busy = true;
      submit.disabled = true;
      clear.disabled = true;
      (value === null ? clear : submit).textContent = 'Saving…';
      try {
        const res = await api(challengePath(this.id, 'override'), { method: 'POST', body: { days: value, reason: why } });
        toast(res.log_retention_days_override === null || res.log_retention_days_override === undefined
          ? 'Override cleared.' : `Retention set to ${plural(res.log_retention_days_override, 'day')}.`);
        await this.refresh(value === null ? 'override-clear' : 'override-submit');
      } catch (e) {
        showError(error, e.message);
        submit.disabled = false;
        clear.disabled = false;
        submit.textContent = 'Set override';
        clear.textContent = 'Clear override';
      } finally {
        busy = false;
      }
    };
    return h('form', { class: 'subform', testid: 'override-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); send(days.value); } } },
      h('h3', {}, 'Retention override'),
      h('p', { testid: 'override-current' },
        override === null || override === undefined
          ? `No override: D is the platform default (${plural(pol.default_days ?? DEFAULT_DAYS, 'day')}).`
          : `Override: ${plural(override, 'day')}${pol.override_reason ? ` (reason: ${pol.override_reason})` : ''}.`),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: daysId }, 'Days (1–3653)'), days),
        h('div', { class: 'field grow' }, h('label', { for: reasonId }, 'Reason (required)'), reason)),
      error,
      h('div', { class: 'actions' }, submit, clear));
  }

  // A phase's policy (R1): its own retention days, keep (never deleted), or cleared; a reason is
  // required and kept in the audit ledger.
  buildPhasePolicyForm(phases) {
    const phaseId = nextId('phase-policy-phase');
    const modeId = nextId('phase-policy-mode');
    const daysId = nextId('phase-policy-days');
    const reasonId = nextId('phase-policy-reason');
    const phase = h('select', { id: phaseId, testid: 'phase-policy-phase' },
      phases.map((p) => h('option', { value: String(p.id) }, `${p.name} (${p.retention_policy === 'keep' ? 'kept'
        : p.retention_days ? plural(p.retention_days, 'day') : 'no policy'})`)));
    const mode = h('select', { id: modeId, testid: 'phase-policy-mode' },
      h('option', { value: 'days' }, 'Retention days'), h('option', { value: 'keep' }, 'Keep (never delete)'),
      h('option', { value: 'clear' }, 'Clear policy'));
    const days = h('input', { id: daysId, testid: 'phase-policy-days', type: 'number', inputmode: 'numeric', min: 1, max: 3653, step: 1 });
    const reason = h('input', { id: reasonId, testid: 'phase-policy-reason', type: 'text', required: true, maxlength: 500, 'aria-required': 'true' });
    const error = h('p', { class: 'error', role: 'alert', testid: 'phase-policy-error', hidden: true });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'phase-policy-submit' }, 'Save phase policy');
    let busy = false;
    return h('form', {
      class: 'subform', testid: 'phase-policy-form', novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          if (busy) return;
          error.hidden = true;
          const body = { reason: reason.value.trim() };
          if (mode.value === 'days') {
            const n = Number(days.value);
            if (!days.value || !Number.isInteger(n) || n < 1 || n > 3653) {
              showError(error, 'Days must be a whole number from 1 to 3653.', days);
              return;
            }
            body.days = n;
          } else {
            body[mode.value] = true;
          }
          if (!body.reason) {
            showError(error, 'A reason is required; it is kept in the audit ledger.', reason);
            return;
          }
          busy = true;
          submit.disabled = true;
          submit.textContent = 'Saving…';
          try {
            await api(`/api/phases/${encodeURIComponent(phase.value)}/policy`, { method: 'POST', body });
            toast('Phase policy saved.');
            await this.refresh('phase-policy-submit');
          } catch (err) {
            showError(error, err.message);
            submit.disabled = false;
            submit.textContent = 'Save phase policy';
          } finally {
            busy = false;
          }
        },
      },
    },
      h('h3', {}, 'Phase policy'),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: phaseId }, 'Phase'), phase),
        h('div', { class: 'field' }, h('label', { for: modeId }, 'Policy'), mode),
        h('div', { class: 'field' }, h('label', { for: daysId }, 'Days (1–3653)'), days)),
      h('div', { class: 'field grow' }, h('label', { for: reasonId }, 'Reason (required)'), reason),
      error,
      h('div', { class: 'actions' }, submit));
  }

  buildHoldForm(pol) {
    const held = Boolean(pol.legal_hold);
    const reasonId = nextId('hold-reason');
    const reason = h('input', { id: reasonId, testid: 'hold-reason', type: 'text', required: true, maxlength: 500, 'aria-required': 'true' });
    const error = h('p', { class: 'error', role: 'alert', testid: 'hold-error', hidden: true });
    const submit = h('button', { type: 'submit', class: held ? '' : 'danger', testid: 'hold-submit' }, held ? 'Release legal hold' : 'Put on legal hold');
    let busy = false;
    return h('form', {
      class: 'subform', testid: 'hold-form', novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          if (busy) return;
          const why = reason.value.trim();
          if (!why) {
            showError(error, 'A reason is required; it is kept in the audit ledger.', reason);
            return;
          }
          busy = true;
          submit.disabled = true;
          submit.textContent = 'Saving…';
          error.hidden = true;
          try {
            const res = await api(challengePath(this.id, 'hold'), { method: 'POST', body: { hold: !held, reason: why } });
            toast(res.legal_hold ? 'Legal hold set.' : 'Legal hold released.');
            await this.refresh('hold-submit');
          } catch (err) {
            showError(error, err.message);
            submit.disabled = false;
            submit.textContent = held ? 'Release legal hold' : 'Put on legal hold';
          } finally {
            busy = false;
          }
        },
      },
    },
    h('h3', {}, 'Legal hold'),
    h('p', { testid: 'hold-status' }, held
      ? `On legal hold${pol.legal_hold_reason ? ` (reason: ${pol.legal_hold_reason})` : ''}: nothing of this challenge is deleted.`
      : 'Not on hold.'),
    h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason (required)'), reason),
    error,
    h('div', { class: 'actions' }, submit));
  }

  // -- audit ------------------------------------------------------------------------------

  buildAudit() {
    const { audit, verify } = this.data;
    return h('section', { class: 'card audit-card', testid: 'audit-card', 'aria-labelledby': 'audit-heading' },
      h('h2', { id: 'audit-heading' }, 'Audit ledger'),
      verify && verifyBadge(verify),
      audit.error
        ? h('p', { class: 'error', role: 'alert', testid: 'audit-error' }, audit.error.message)
        : auditTable(audit.value.events || [], false),
      h('div', { class: 'actions' },
        csvButton(`/api/audit?format=csv&challenge_id=${encodeURIComponent(this.id)}`, `audit-challenge-${this.id}.csv`)));
  }
}

/** Marks a table to stack its rows as cards on a phone: each body cell gets its column's heading
 *  as data-label (shown by style.css before the value). Returns the table. */
function stackable(table) {
  const headings = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, i) => {
      if (headings[i]) cell.setAttribute('data-label', headings[i]);
    });
  }
  table.classList.add('stack');
  return table;
}

function dl(rows) {
  return h('dl', { class: 'facts' }, rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

function addDays(value, days) {
  const d = parseDate(value);
  if (!d || days === null || days === undefined) return null;
  return new Date(d.getTime() + Number(days) * 86400000).toISOString();
}

// ---------------------------------------------------------------------------------------------
// Forecast chart: inline SVG, one row per scheduled sweep run, two bars (submissions, bytes),
// drawn at the container's pixel width so that text stays readable on a phone.

function forecastChart(runs, width) {
  const W = Math.max(260, Math.floor(width));
  const rowH = 34;
  const top = 4;
  const labelW = 56;
  const valueW = W < 420 ? 92 : 140;
  const barX = labelW;
  const barW = Math.max(40, W - labelW - valueW - 8);
  const H = top + rowH * runs.length + 4;
  const maxSubs = Math.max(0, ...runs.map((r) => r.submissions));
  const maxBytes = Math.max(0, ...runs.map((r) => r.bytes));
  const titleId = nextId('forecast-title');
  const descId = nextId('forecast-desc');
  const total = runs.reduce((a, r) => a + r.submissions, 0);
  const chart = svg('svg', {
    class: 'forecast-chart', testid: 'forecast-chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`,
    role: 'img', 'aria-labelledby': `${titleId} ${descId}`,
  },
  svg('title', { id: titleId }, 'Submissions and bytes deleted by each scheduled sweep'),
  svg('desc', { id: descId }, total > 0
    ? runs.filter((r) => r.submissions > 0).map((r) => `sweep of ${fmtDay(r.run_at)}: ${plural(r.submissions, 'submission')}, ${fmtBytes(r.bytes)}`).join('; ')
    : 'Nothing is deleted by these sweeps.'));
  runs.forEach((r, i) => {
    const y = top + i * rowH;
    const subsW = maxSubs > 0 ? (barW * r.submissions) / maxSubs : 0;
    const bytesW = maxBytes > 0 ? (barW * r.bytes) / maxBytes : 0;
    chart.append(svg('g', {
      class: r.submissions > 0 ? 'week' : 'week is-empty', testid: 'forecast-sweep',
      'data-run-at': r.run_at, 'data-submissions': r.submissions, 'data-bytes': r.bytes,
    },
    svg('title', {}, `Sweep of ${fmtDateTime(r.run_at)}: ${plural(r.submissions, 'submission')}, ${fmtBytes(r.bytes)} (${r.bytes} bytes)`),
    i % 2 === 0 && svg('rect', { class: 'stripe', x: 0, y, width: W, height: rowH }),
    svg('text', { class: 'label', x: 4, y: y + rowH / 2, 'dominant-baseline': 'middle' }, fmtShortDay(r.run_at)),
    svg('rect', { class: 'track', x: barX, y: y + 7, width: barW, height: 9, rx: 2 }),
    svg('rect', { class: 'track', x: barX, y: y + 18, width: barW, height: 9, rx: 2 }),
    svg('rect', { class: 'bar bar-subs', x: barX, y: y + 7, width: subsW.toFixed(1), height: 9, rx: 2 }),
    svg('rect', { class: 'bar bar-bytes', x: barX, y: y + 18, width: bytesW.toFixed(1), height: 9, rx: 2 }),
    svg('text', { class: 'value', x: W - 4, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' },
      r.submissions > 0 ? `${r.submissions} · ${fmtBytes(r.bytes)}` : '—')));
  });
  return chart;
}

// "eligible from ..., deleted by the sweep of ..." for the next submission to go.
function nextDeletionText(info, hasConsent) {
  const eligible = info.next_deletion_eligible_date;
  const deletable = info.next_deletion_date;
  const sweep = info.next_deletion_sweep;
  if (!deletable) return hasConsent ? 'none scheduled' : 'none: no consent';
  const from = `eligible from ${fmtDay(eligible || deletable)}`;
  if (!sweep) return `${from}, deletable from ${fmtDay(deletable)}; no sweep is scheduled`;
  return `${from}, deleted by the sweep of ${fmtDay(sweep)} (${fmtRelative(sweep)})`;
}

// ---------------------------------------------------------------------------------------------
// Audit and jobs (shared by the challenge page and the admin page)

function verifyBadge(verify) {
  if (verify.error) {
    return h('p', { class: 'error', role: 'alert', testid: 'audit-verified', 'data-ok': 'unknown' },
      `Could not check the ledger: ${verify.error.message}`);
  }
  const v = verify.value;
  return v.ok
    ? h('p', { class: 'verified ok', testid: 'audit-verified', 'data-ok': 'true' },
      `✓ Ledger verified: the hash chain of all ${plural(v.count, 'event')} is intact.`)
    : h('p', { class: 'verified bad', role: 'alert', testid: 'audit-verified', 'data-ok': 'false' },
      `✗ Ledger check failed after ${plural(v.count, 'event')}: ${v.error || 'the hash chain is broken'}`);
}

function auditTable(events, withChallenge) {
  if (events.length === 0) return h('p', { class: 'muted', testid: 'audit-empty' }, 'No events yet.');
  // Newest first, whatever order the server lists them in.
  events = [...events].sort((a, b) => (Number(b.id) || 0) - (Number(a.id) || 0));
  return h('div', { class: 'table-wrap' },
    stackable(h('table', { class: 'audit', testid: 'audit-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'When'),
        withChallenge && h('th', { scope: 'col' }, 'Challenge'),
        h('th', { scope: 'col' }, 'Action'),
        h('th', { scope: 'col' }, 'By'),
        h('th', { scope: 'col' }, 'Notes'),
        h('th', { scope: 'col' }, 'Submission'),
        h('th', { scope: 'col' }, 'Hash'))),
      h('tbody', {}, events.map((e) => h('tr', { testid: 'audit-row', 'data-action': e.action, 'data-ledger': e.ledger },
        h('td', { class: 'nowrap' }, fmtDateTime(e.at)),
        withChallenge && h('td', {}, e.challenge_id === null || e.challenge_id === undefined ? '—'
          : h('a', { href: `#/challenges/${e.challenge_id}` }, `#${e.challenge_id}`)),
        h('td', {}, h('code', {}, e.action)),
        h('td', {}, e.actor || '—'),
        h('td', { class: 'notes' }, e.notes || ''),
        h('td', {}, e.submission_id ?? ''),
        h('td', {}, h('code', { title: e.hash || '' }, (e.hash || '').slice(0, 12)))))))));
}

function csvButton(path, filename) {
  const button = h('button', {
    type: 'button', testid: 'audit-csv',
    on: {
      click: async () => {
        button.disabled = true;
        try {
          const blob = await api(path, { raw: true });
          const url = URL.createObjectURL(blob);
          const a = h('a', { href: url, download: filename, hidden: true });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 1000);
        } catch (e) {
          toast(`Could not download: ${e.message}`);
        } finally {
          button.disabled = false;
        }
      },
    },
  }, 'Download CSV');
  return button;
}

const JOB_HELP = {
  cleanup_expired_submission_artifacts: 'The sweep: deletes the files of every submission whose deletion date has passed and that no rule protects.',
  weekly_retention_notifications_and_consent_log: 'Sends the warning e-mails that are due and logs the consent changes of the last 7 days.',
  update_submission_retention_dates: 'Recomputes every submission’s deletion date.',
  reconcile_log_retention: 'Brings each challenge’s log retention policy in line with its consent and period.',
};

async function renderAdmin(isCurrent, focusTestId = null, note = null) {
  setTitle('Admin');
  if (!state.me.is_admin) {
    setMain(h('section', { class: 'card' }, h('h1', {}, 'Admin'),
      h('p', { class: 'error', role: 'alert', testid: 'error-message' }, 'Only platform admins can see this page.')));
    return;
  }
  if (!$('admin-page')) setMain(h('h1', {}, 'Admin'), loading());
  const settle = (p) => p.then((value) => ({ value }), (error) => ({ error }));
  const [jobs, verify, audit] = await Promise.all([
    settle(api('/api/jobs')), settle(api('/api/audit/verify')), settle(api('/api/audit?limit=50')),
  ]);
  if (!isCurrent()) return;
  const again = (focus, message) => renderAdmin(isCurrent, focus, message);
  setMain(h('div', { testid: 'admin-page' },
    h('h1', {}, 'Admin'),
    h('section', { class: 'card', 'aria-labelledby': 'jobs-heading' },
      h('h2', { id: 'jobs-heading' }, 'Jobs'),
      note && h('div', { class: 'job-result', testid: 'job-result', role: 'status' },
        h('p', {}, note.title), h('pre', {}, note.body)),
      jobs.error
        ? h('p', { class: 'error', role: 'alert', testid: 'error-message' }, jobs.error.message)
        : jobsTable(jobs.value.jobs || [], again)),
    h('section', { class: 'card', 'aria-labelledby': 'ledger-heading' },
      h('h2', { id: 'ledger-heading' }, 'Audit ledger'),
      verifyBadge(verify),
      audit.error
        ? h('p', { class: 'error', role: 'alert', testid: 'audit-error' }, audit.error.message)
        : auditTable(audit.value.events || [], true),
      h('div', { class: 'actions' }, csvButton('/api/audit?format=csv', 'audit.csv')))));
  if (focusTestId) document.querySelector(focusTestId)?.focus();
}

function jobsTable(jobs, again) {
  if (jobs.length === 0) return h('p', { class: 'muted' }, 'No jobs.');
  return h('div', { class: 'table-wrap' },
    stackable(h('table', { testid: 'jobs-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Schedule (UTC)'),
        h('th', { scope: 'col' }, 'Next run'), h('th', { scope: 'col' }, 'Last run'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, jobs.map((job) => {
        const last = job.last_run;
        const run = h('button', {
          type: 'button', testid: 'job-run', 'data-job': job.name,
          'aria-label': `Run now: ${job.name}`,
          on: { click: () => runJob(job, run, again) },
        }, 'Run now');
        return h('tr', { testid: 'job-row', 'data-job': job.name },
          h('th', { scope: 'row' }, h('code', {}, job.name), h('div', { class: 'help' }, JOB_HELP[job.name] || '')),
          h('td', {}, h('code', {}, job.cron)),
          h('td', { class: 'nowrap' }, fmtDateTime(job.next_run)),
          h('td', { testid: 'job-last-run' }, last
            ? [h('span', { class: `badge badge-${last.status === 'succeeded' || last.status === 'success' || last.status === 'ok' ? 'ok' : last.status === 'running' ? 'neutral' : 'warn'}` }, last.status),
              ' ', h('span', { class: 'nowrap' }, fmtDateTime(last.started_at)),
              last.result && h('details', {}, h('summary', {}, 'result'),
                h('pre', {}, typeof last.result === 'string' ? last.result : JSON.stringify(last.result, null, 2)))]
            : 'never'),
          h('td', {}, run));
      })))));
}

function confirmDialog(title, body, okText) {
  const dialog = $('confirm-dialog');
  $('confirm-dialog-title', dialog).textContent = title;
  $('confirm-dialog-body', dialog).textContent = body;
  const ok = $('confirm-ok', dialog);
  const cancel = $('confirm-cancel', dialog);
  ok.textContent = okText;
  return new Promise((resolve) => {
    const controller = new AbortController();
    const done = (value) => {
      controller.abort();
      if (dialog.open) dialog.close();
      resolve(value);
    };
    ok.addEventListener('click', () => done(true), { signal: controller.signal });
    cancel.addEventListener('click', () => done(false), { signal: controller.signal });
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    }, { signal: controller.signal });
    dialog.showModal();
    cancel.focus();
  });
}

async function runJob(job, button, again) {
  if (button.disabled) return;
  const yes = await confirmDialog(`Run ${job.name} now?`,
    `${JOB_HELP[job.name] || ''} It runs to its end, as the scheduler would, and is recorded in the audit ledger.`.trim(),
    'Run now');
  if (!yes) {
    button.focus();
    return;
  }
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Running…';
  try {
    const res = await api(`/api/jobs/${encodeURIComponent(job.name)}/run`, { method: 'POST' });
    const run = res.run || {};
    await again(`[data-testid="job-run"][data-job="${job.name}"]`, {
      title: `${job.name}: ${run.status || 'done'}`,
      body: JSON.stringify(run.result ?? run, null, 2),
    });
  } catch (e) {
    await again(`[data-testid="job-run"][data-job="${job.name}"]`, {
      title: `${job.name} could not be run`, body: e.message,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Start

$('signout').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => {
  // Move focus to the new page for keyboard and screen-reader users; a page may then focus a field.
  $('main').focus({ preventScroll: true });
  render();
});
window.addEventListener('storage', (event) => {
  // Signed out (or in) in another tab.
  if (event.key === TOKEN_KEY && event.newValue !== state.token) {
    state.token = event.newValue;
    state.me = null;
    render();
  }
});
render();
