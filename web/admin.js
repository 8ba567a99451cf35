// The operator page (issue 17, ADR 0027): a schedule's live queue and sale figures and its controls, over the
// admin API (api/openapi.yaml, tag admin). Plain ES module, no build step (ADR 0009); api.js's helpers as they are.
import { api, ApiError, session, saveSession } from './api.js';

const kRefreshMs = 2000;
const $ = (selector) => document.querySelector(selector);

const numbers = ['admitsPerMinute', 'maxActive', 'holdExtensionSeconds', 'powDifficulty'];
const flags = ['paused', 'queueEveryone', 'salesClosed'];
let current = null; // the controls as the server last answered
let timer = null;

function notice(kind, text) {
  const box = $('#notice');
  box.replaceChildren();
  if (!text) return;
  const div = document.createElement('div');
  div.className = `notice ${kind}`;
  const p = document.createElement('p');
  p.textContent = text;
  div.append(p);
  box.append(div);
}

function explain(error) {
  if (!(error instanceof ApiError)) return String(error);
  if (error.status === 0) return 'The server did not answer; retrying.';
  if (error.status === 401) return 'Please log in again.';
  if (error.status === 403) return 'This account is not an operator (admin role needed).';
  if (error.status === 404) return 'No such schedule.';
  return error.problem?.detail ?? `Error ${error.status}`;
}

/// One of '#login', '#pick' (the schedule picker alone) or '#schedule' (picker, figures and controls).
function show(id) {
  $('#login').hidden = id !== '#login';
  $('#pick').hidden = id === '#login';
  $('#schedule').hidden = id !== '#schedule';
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

function scheduleId() {
  const id = Number(new URLSearchParams(location.search).get('schedule'));
  return Number.isInteger(id) && id > 0 ? id : null;
}

function renderStats(s) {
  $('#stats tbody').replaceChildren(
    row(['Waiting', s.waiting]),
    row(['Pre-queued', s.preQueued]),
    row(['Active', s.active]),
    row(['Admitted per minute', s.admittedPerMinute]),
    row(['Wait p50 / p95 (s)', `${s.waitSeconds.p50.toFixed(1)} / ${s.waitSeconds.p95.toFixed(1)}`]),
    row(['Tokens expired while waiting', s.abandoned.tokensExpiredWaiting]),
    row(['Holds expired unpaid', s.abandoned.holdsExpiredUnpaid]),
    row(['Admitted → held → paid', `${s.conversion.admitted} → ${s.conversion.held} → ${s.conversion.paid}`]),
  );
  $('#zones tbody').replaceChildren(...s.seatsLeftByZone.map((z) => row([z.name, z.left])));
}

function renderControls(c) {
  current = c;
  const form = $('#controls');
  for (const name of flags) form.elements[name].checked = c[name];
  for (const name of numbers) form.elements[name].value = c[name] ?? '';
}

function renderAudit(items) {
  $('#audit tbody').replaceChildren(
    ...items.map((a) => row([a.at, a.actor, a.field, JSON.stringify(a.before), JSON.stringify(a.after)])),
  );
}

async function refresh(id) {
  try {
    const [stats, audit] = await Promise.all([
      api('GET', `/api/v1/admin/schedules/${id}/stats`),
      api('GET', `/api/v1/admin/schedules/${id}/audit?limit=20`),
    ]);
    renderStats(stats.body);
    renderAudit(audit.body.items);
  } catch (e) {
    notice('error', explain(e));
    if (e instanceof ApiError && [401, 403, 404].includes(e.status)) return;
  }
  timer = setTimeout(() => refresh(id), kRefreshMs);
}

async function open(id) {
  clearTimeout(timer);
  try {
    renderControls((await api('GET', `/api/v1/admin/schedules/${id}/controls`)).body);
  } catch (e) {
    notice('error', explain(e));
    if (e instanceof ApiError && e.status === 401) {
      saveSession(null);
      show('#login');
    }
    return;
  }
  notice(null);
  show('#schedule');
  $('#pick').elements.schedule.value = id;
  await refresh(id);
}

/// The fields the operator changed, as a PATCH body (an empty number field is null: back to automatic).
function changes(form) {
  const body = {};
  for (const name of flags) if (form.elements[name].checked !== current[name]) body[name] = form.elements[name].checked;
  for (const name of numbers) {
    const text = form.elements[name].value.trim();
    const value = text === '' ? (name === 'holdExtensionSeconds' ? 0 : null) : Number(text);
    if (value !== current[name]) body[name] = value;
  }
  return body;
}

function start() {
  $('#login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    try {
      const tokens = await api('POST', '/api/v1/auth/login', {
        auth: false,
        body: { email: data.get('email'), password: data.get('password') },
      });
      saveSession({ accessToken: tokens.body.accessToken, refreshToken: tokens.body.refreshToken });
      notice(null);
      const id = scheduleId();
      if (id) await open(id);
      else show('#pick');
    } catch (e) {
      notice('error', e instanceof ApiError && e.status === 401 ? 'Wrong email or password.' : explain(e));
    }
  });
  $('#pick').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = Number(event.target.elements.schedule.value);
    history.replaceState(null, '', `?schedule=${id}`);
    open(id);
  });
  $('#controls').addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = scheduleId();
    const body = changes(event.target);
    if (!id || Object.keys(body).length === 0) return;
    try {
      renderControls((await api('PATCH', `/api/v1/admin/schedules/${id}/controls`, { body })).body);
      notice('success', `Applied: ${Object.keys(body).join(', ')}`);
    } catch (e) {
      notice('error', explain(e));
    }
  });
  if (!session()?.accessToken) {
    show('#login');
    return;
  }
  const id = scheduleId();
  if (id) open(id);
  else show('#pick');
}

start();
