// Marquee's web app: hash routes, one view at a time. Each view gets an AbortSignal that ends its streams
// and timers when the fan navigates away.
import { api, ApiError, session, saveSession, idempotencyKey, withRetryKey, readEvents, joinQueue } from './api.js';
import { decodeBitset } from './availability.js';
import { h } from './dom.js';
import { t, setLanguage, language, formatWon, formatDate } from './i18n.js';
import { describe } from './errors.js';
import { SeatPicker } from './seatmap.js';
import { preQueueCountdown, settlePayment, soldOutPanel } from './moments.js';

const main = document.getElementById('main');
const noticeBox = document.getElementById('notice');
let viewAbort = null;
let keepNoticeOnce = false;

// ---- small helpers ----------------------------------------------------------------------------------------

function navigate(hash, { keepNotice = false } = {}) {
  keepNoticeOnce = keepNotice;
  if (location.hash === hash) route();
  else location.hash = hash;
}

const queueKey = (scheduleId) => `marquee.queue.${scheduleId}`;
const queueToken = (scheduleId) => sessionStorage.getItem(queueKey(scheduleId));

/// Shows a notice: kind error|info|success, with action buttons [{ label, run }]. `slug` names the problem.
function notice(kind, text, actions = [], slug = '') {
  noticeBox.replaceChildren(
    h(
      'div',
      { class: `notice ${kind}`, 'data-kind': kind, 'data-problem': slug || null },
      h('p', { text }),
      actions.map((a) => h('button', { class: 'secondary', type: 'button', onclick: a.run }, a.label)),
    ),
  );
}

function clearNotice() {
  noticeBox.replaceChildren();
}

/// Shows what an API error means and what to do. `context`: { scheduleId, retry, seatName }.
function showProblem(error, context = {}) {
  if (!(error instanceof ApiError)) throw error;
  const d = describe(error.problem, context);
  const known = {
    pickAgain: context.scheduleId && { label: t('backToSeats'), run: () => navigate(`#/seats/${context.scheduleId}`) },
    waitingRoom: context.scheduleId && { label: t('queueTitle'), run: () => navigate(`#/queue/${context.scheduleId}`) },
    rejoin: context.scheduleId && {
      label: t('rejoinQueue'),
      run: () => {
        sessionStorage.removeItem(queueKey(context.scheduleId));
        navigate(`#/queue/${context.scheduleId}`);
      },
    },
    wallet: { label: t('goToWallet'), run: () => navigate('#/wallet') },
    retry: context.retry && { label: t('tryAgain'), run: context.retry },
    reservations: { label: t('navReservations'), run: () => navigate('#/reservations') },
    login: { label: t('goToLogin'), run: () => logout() },
  };
  const key = t(d.key, d.params) === d.key ? 'err_unknown' : d.key;
  notice('error', t(key, d.params), d.actions.map((a) => known[a]).filter(Boolean), d.slug);
  if (d.slug === 'unauthorized') saveSession(null);
}

// ---- chrome -----------------------------------------------------------------------------------------------

function renderChrome() {
  document.documentElement.lang = language();
  document.getElementById('lang').value = language();
  document.getElementById('lang-label').textContent = t('language');
  const nav = document.getElementById('nav');
  const user = session();
  if (!user) {
    nav.replaceChildren();
    return;
  }
  const here = location.hash.split('/')[1] ?? '';
  const link = (href, key) =>
    h('a', { href, 'aria-current': href.split('/')[1] === here ? 'page' : null }, t(key));
  nav.replaceChildren(
    link('#/concerts', 'navConcerts'),
    link('#/reservations', 'navReservations'),
    link('#/wallet', 'navWallet'),
    h('span', { class: 'who' }, user.name ?? ''),
    h('button', { class: 'secondary', type: 'button', onclick: logout }, t('logout')),
  );
}

async function logout() {
  const refreshToken = session()?.refreshToken;
  saveSession(null);
  if (refreshToken) {
    api('POST', '/api/v1/auth/logout', { body: { refreshToken }, auth: false }).catch(() => {});
  }
  navigate('#/login', { keepNotice: true });
}

// ---- views ------------------------------------------------------------------------------------------------

function renderLogin() {
  const loginEmail = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const loginForm = h(
    'form',
    {
      'aria-labelledby': 'login-title',
      onsubmit: async (e) => {
        e.preventDefault();
        const data = new FormData(e.target);
        try {
          const tokens = await api('POST', '/api/v1/auth/login', {
            auth: false,
            body: { email: data.get('email'), password: data.get('password') },
          });
          saveSession({ accessToken: tokens.body.accessToken, refreshToken: tokens.body.refreshToken });
          const me = await api('GET', '/api/v1/auth/me');
          saveSession({ ...session(), name: me.body.displayName ?? me.body.email });
          navigate(sessionStorage.getItem('marquee.after-login') ?? '#/concerts');
          sessionStorage.removeItem('marquee.after-login');
        } catch (error) {
          showProblem(error);
        }
      },
    },
    h('h2', { id: 'login-title' }, t('loginTitle')),
    h('label', {}, t('email'), loginEmail),
    h('label', {}, t('password'), h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, t('loginButton')),
  );
  const signupForm = h(
    'form',
    {
      'aria-labelledby': 'signup-title',
      onsubmit: async (e) => {
        e.preventDefault();
        const data = new FormData(e.target);
        try {
          await api('POST', '/api/v1/auth/signup', {
            auth: false,
            body: { email: data.get('email'), password: data.get('password'), displayName: data.get('displayName') },
          });
          loginEmail.value = data.get('email');
          notice('success', t('signedUp'));
          loginForm.querySelector('input[name=password]').focus();
        } catch (error) {
          showProblem(error);
        }
      },
    },
    h('h2', { id: 'signup-title' }, t('signupTitle')),
    h('label', {}, t('displayName'), h('input', { name: 'displayName', autocomplete: 'nickname', required: true, maxlength: '50' })),
    h('label', {}, t('email'), h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true })),
    h('label', {}, t('password'),
      h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: '10', 'aria-describedby': 'password-hint' })),
    h('small', { id: 'password-hint', class: 'muted' }, t('passwordHint')),
    h('button', { type: 'submit', class: 'secondary' }, t('signupButton')),
  );
  main.replaceChildren(h('div', { class: 'split' }, h('div', { class: 'card' }, loginForm), h('div', { class: 'card' }, signupForm)));
}

function isOpen(schedule, now = Date.now()) {
  return Date.parse(schedule.bookingOpensAt) <= now && now < Date.parse(schedule.bookingClosesAt);
}

function zoneList(zones) {
  return h('div', { class: 'zones' },
    zones.map((z) => h('span', { class: 'zone' }, h('span', { class: 'swatch', style: { background: z.color } }), `${z.name} ${formatWon(z.price)}`)));
}

async function renderConcerts(signal) {
  main.replaceChildren(h('h1', {}, t('concertsTitle')), h('p', { class: 'muted' }, t('loading')));
  const page = await api('GET', '/api/v1/concerts?limit=50', { signal });
  const cards = await Promise.all(
    page.body.items.map(async (concert) => {
      const schedules = await api('GET', `/api/v1/concerts/${concert.id}/schedules`, { signal });
      return h('section', { class: 'card', 'aria-labelledby': `concert-${concert.id}` },
        h('h2', { id: `concert-${concert.id}` }, concert.title),
        h('p', { class: 'muted' }, `${concert.artist} · ${concert.venue}`),
        concert.description ? h('p', {}, concert.description) : null,
        h('h3', {}, t('schedulesTitle')),
        h('ul', { class: 'plain' },
          schedules.body.items.map((s) => h('li', { class: 'card', 'data-schedule-id': s.id },
            h('div', { class: 'row' },
              h('strong', {}, formatDate(s.startsAt)),
              h('span', { class: 'muted' }, t('seatsLeft', { count: s.availableSeats })),
              isOpen(s)
                ? h('a', { class: 'button', href: `#/queue/${s.id}` }, t('bookButton'))
                : h('span', { class: 'muted' }, t('bookingClosed'))),
            zoneList(s.zones)))));
    }),
  );
  main.replaceChildren(h('h1', {}, t('concertsTitle')), ...(cards.length ? cards : [h('p', {}, t('noConcerts'))]));
}

async function renderQueue(scheduleId, signal) {
  const position = h('div', { class: 'queue-position', id: 'queue-position', 'aria-live': 'polite' }, '…');
  const eta = h('p', { id: 'queue-eta' });
  main.replaceChildren(
    h('h1', {}, t('queueTitle')),
    h('div', { class: 'card' }, h('p', {}, t('queuePosition')), position, eta, h('p', { class: 'muted' }, t('queueKeepOpen'))),
  );
  const context = { scheduleId };
  let stopCountdown = null;
  const show = (token) => {
    // Before the opening (PRE_QUEUE, with opensAt): no place in line yet, a countdown to the opening.
    if ((token.state ?? token.status) === 'PRE_QUEUE' && token.opensAt) {
      position.textContent = '—';
      stopCountdown ??= preQueueCountdown(eta, token.opensAt, signal);
    } else if (token.state === 'WAITING') {
      stopCountdown?.();
      stopCountdown = null;
      position.textContent = String(token.position);
      // ADR 0033: while the organiser has paused admission there is no ETA, only the kept place.
      eta.textContent = token.paused ? t('queuePaused') : t('queueEta', { seconds: token.etaSeconds });
    }
  };
  const admitted = (token) => {
    sessionStorage.setItem(queueKey(scheduleId), token.token);
    notice('success', t('queueAdmitted'));
    navigate(`#/seats/${scheduleId}`, { keepNotice: true });
  };
  const ended = (token) => {
    sessionStorage.removeItem(queueKey(scheduleId));
    if (token?.soldOut) return main.replaceChildren(h('h1', {}, t('queueTitle')), soldOutPanel());
    position.textContent = '—';
    eta.textContent = '';
    notice('error', t('queueEnded'), [{ label: t('rejoinQueue'), run: () => navigate(`#/queue/${scheduleId}`) }], 'queue-token-expired');
  };
  let token;
  try {
    token = (await joinQueue(scheduleId, { signal })).body;
  } catch (error) {
    return showProblem(error, context);
  }
  if (token.state === 'ACTIVE') return admitted(token);
  show(token);
  // Pushed, not polled: the stream sends `position` every tick, then one `admitted` or `ended`. If it drops
  // while still WAITING, read the state once and open it again.
  while (!signal.aborted) {
    let done = false;
    try {
      await readEvents(`/api/v1/queue/me/events?scheduleId=${scheduleId}`, {
        signal,
        onEvent: ({ event, data }) => {
          const update = JSON.parse(data);
          if (event === 'admitted' || update.state === 'ACTIVE') {
            done = true;
            admitted(update);
          } else if (event === 'ended' || update.state === 'USED' || update.state === 'EXPIRED') {
            done = true;
            ended(update);
          } else show(update);
        },
      });
    } catch (error) {
      if (signal.aborted) return;
      return showProblem(error, context);
    }
    if (done || signal.aborted) return;
    const now = (await api('GET', `/api/v1/queue/me?scheduleId=${scheduleId}`, { signal })).body;
    if (now.state === 'ACTIVE') return admitted(now);
    if (now.state !== 'WAITING' && (now.state ?? now.status) !== 'PRE_QUEUE') return ended(now);
    show(now);
    // A stream that ends at once before the opening is not asked again in a tight loop.
    if ((now.state ?? now.status) === 'PRE_QUEUE') await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function seatName(layout, seatId) {
  const seat = layout?.seats.find((s) => s.id === seatId);
  return seat ? t('seatLabel', { row: seat.row, number: seat.number }) : `#${seatId}`;
}

async function renderSeats(scheduleId, signal) {
  const token = queueToken(scheduleId);
  if (!token) return navigate(`#/queue/${scheduleId}`);
  main.replaceChildren(h('h1', {}, t('seatMapTitle')), h('p', { class: 'muted' }, t('loading')));
  const layout = (await api('GET', `/api/v1/schedules/${scheduleId}/seat-map`, { signal, auth: false })).body;
  // The layout was parsed in this task; build the map in the next one, so neither is a long task at 10,000 seats.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const zones = new Map(layout.zones.map((z) => [z.id, z]));
  const name = (id) => {
    const seat = picker.byId.get(id);
    return seat ? t('seatLabel', { row: seat.row, number: seat.number }) : `#${id}`;
  };
  const context = { scheduleId, seatName: name };

  const list = h('ul', { class: 'plain', id: 'selected-seats', 'aria-live': 'polite' });
  const total = h('strong', { id: 'total' });
  const holdButton = h('button', { type: 'button', id: 'hold', disabled: true }, t('holdButton'));
  const picker = new SeatPicker(layout, { onChange: refresh, onMax: () => notice('info', t('maxSeats')) });
  function refresh(seats = picker.selectedSeats()) {
    list.replaceChildren(
      ...(seats.length
        ? seats.map((s) => h('li', { 'data-seat-id': s.id }, `${zones.get(s.zoneId)?.name} ${name(s.id)} · ${formatWon(zones.get(s.zoneId)?.price ?? 0)}`))
        : [h('li', { class: 'muted' }, t('noSeatSelected'))]),
    );
    total.textContent = formatWon(seats.reduce((sum, s) => sum + (zones.get(s.zoneId)?.price ?? 0), 0));
    holdButton.disabled = seats.length === 0;
  }

  holdButton.addEventListener('click', async () => {
    holdButton.disabled = true;
    try {
      const body = { scheduleId: Number(scheduleId), seatIds: picker.selectedSeats().map((s) => s.id) };
      const held = await withRetryKey('hold', body, (key) => api('POST', '/api/v1/reservations', {
        body, headers: { 'X-Queue-Token': token, 'Idempotency-Key': key },
      }));
      clearNotice();
      navigate(`#/checkout/${held.body.id}`);
    } catch (error) {
      const lost = error instanceof ApiError && Array.isArray(error.problem?.seats) ? error.problem.seats : [];
      if (lost.length) picker.markTaken(lost); // the problem below says it, with the seats to take instead
      showProblem(error, context);
      const first = picker.byId.get(lost[0]);
      if (first) {
        // The nearest free seats, one button each, on the problem's notice; taking one closes it.
        const buttons = picker.insteadButtons(first);
        buttons.forEach((b) => b.addEventListener('click', clearNotice));
        noticeBox.querySelector('.notice')?.append(...buttons);
      }
      refresh();
    }
  });

  // Best available (POST /reservations with zoneId and count): hidden for good once the API answers that it
  // does not take that shape (400 or 422), as an older server does.
  const bestKey = 'marquee.best-available';
  const bestCount = h('select', { id: 'best-count' }, [1, 2, 3, 4].map((n) => h('option', { value: String(n) }, String(n))));
  const bestButton = h('button', { type: 'button', id: 'best', class: 'secondary' }, t('bestAvailable'));
  const best = h('div', { class: 'row best-available', hidden: sessionStorage.getItem(bestKey) === 'no' },
    h('label', { class: 'inline' }, t('bestCount'), bestCount), bestButton);
  bestButton.addEventListener('click', async () => {
    bestButton.disabled = true;
    try {
      const body = { scheduleId: Number(scheduleId), zoneId: picker.zone.id, count: Number(bestCount.value) };
      const held = await withRetryKey('hold', body, (key) => api('POST', '/api/v1/reservations', {
        body, headers: { 'X-Queue-Token': token, 'Idempotency-Key': key },
      }));
      clearNotice();
      navigate(`#/checkout/${held.body.id}`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 400 || (error.status === 422 && !/idempotency-key-reused$/.test(error.problem?.type ?? '')))) {
        sessionStorage.setItem(bestKey, 'no');
        best.hidden = true;
        notice('info', t('bestUnavailable'), [], 'best-available-unsupported');
        picker.grid?.viewport.focus();
      } else showProblem(error, context);
    } finally {
      bestButton.disabled = false;
    }
  });
  picker.tools.append(best);

  main.replaceChildren(
    h('h1', {}, t('seatMapTitle')),
    picker.element,
    h('section', { class: 'card', 'aria-labelledby': 'selected-title' },
      h('h2', { id: 'selected-title' }, t('selectedSeats')), list,
      h('p', {}, `${t('total')}: `, total),
      h('div', { class: 'row' }, holdButton,
        h('button', { type: 'button', class: 'secondary', onclick: () => picker.clear() }, t('clearSelection')))),
  );
  if (layout.zones.length === 1) picker.openZone(layout.zones[0].id);
  refresh([]);
  const first = await api('GET', `/api/v1/schedules/${scheduleId}/availability`, { signal, auth: false });
  picker.applyAvailability(decodeBitset(first.body.taken));
  // Live: one `availability` event per version; reconnect with Last-Event-ID when the stream ends.
  let lastId = String(first.body.version);
  while (!signal.aborted) {
    try {
      await readEvents(`/api/v1/schedules/${scheduleId}/availability/events`, {
        signal,
        auth: false,
        headers: { 'Last-Event-ID': lastId },
        onEvent: ({ event, data, id }) => {
          if (event !== 'availability') return;
          if (id) lastId = id;
          picker.applyAvailability(decodeBitset(JSON.parse(data).taken));
        },
      });
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function renderCheckout(reservationId, signal) {
  main.replaceChildren(h('h1', {}, t('checkoutTitle')), h('p', { class: 'muted' }, t('loading')));
  let reservation = (await api('GET', `/api/v1/reservations/${reservationId}`, { signal })).body;
  const scheduleId = reservation.scheduleId;
  const layout = (await api('GET', `/api/v1/schedules/${scheduleId}/seat-map`, { signal, auth: false })).body;
  const context = { scheduleId, seatName: (id) => seatName(layout, id) };
  if (reservation.state !== 'HELD') return showEnded(reservation, context);
  const balance = (await api('GET', '/api/v1/wallet', { signal })).body.balance;

  const countdown = h('div', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  // Said once, politely, when a minute is left (the timer itself is not read out every second).
  const warning = h('p', { class: 'hold-warning', id: 'hold-warning', role: 'status', 'aria-live': 'polite' });
  let warned = false;
  const payButton = h('button', { type: 'submit', id: 'pay' }, t('payButton', { amount: formatWon(reservation.totalPrice) }));
  const pointsInput = h('input', {
    type: 'number', name: 'pointsAmount', min: '1', max: String(Math.max(1, reservation.totalPrice - 1)),
    value: String(Math.max(1, Math.min(balance, reservation.totalPrice - 1))),
  });
  const pointsLabel = h('label', { hidden: true }, t('pointsAmount'), pointsInput);
  const method = (value, key, checked) =>
    h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'method', value, checked,
      onchange: () => { pointsLabel.hidden = value !== 'POINTS+CARD'; } }), t(key));
  let expired = false;

  const expire = async () => {
    // The timer says the hold is over; the server decides. Ask it, and look again shortly if it disagrees.
    try {
      reservation = (await api('GET', `/api/v1/reservations/${reservationId}`, { signal })).body;
    } catch (error) {
      if (!signal.aborted) showProblem(error, context);
      return;
    }
    if (reservation.state === 'HELD') {
      expired = false;
      return setTimeout(tick, 500);
    }
    showEnded(reservation, context);
  };
  const tick = () => {
    if (signal.aborted || expired) return;
    const left = Math.max(0, Date.parse(reservation.expiresAt) - Date.now());
    const s = Math.ceil(left / 1000);
    countdown.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    countdown.classList.toggle('low', s <= 60);
    if (s <= 60 && left > 0 && !warned) {
      warned = true;
      warning.textContent = t('holdWarning');
    }
    if (left <= 0) {
      expired = true;
      payButton.disabled = true;
      expire();
      return;
    }
    setTimeout(tick, Math.min(250, left));
  };

  const pay = async (e) => {
    e?.preventDefault();
    const data = new FormData(form);
    const chosen = data.get('method');
    const body = { reservationId, method: chosen };
    if (chosen === 'POINTS+CARD') body.pointsAmount = Number(data.get('pointsAmount'));
    payButton.disabled = true;
    try {
      const paid = await api('POST', '/api/v1/payments', {
        body,
        headers: { 'Idempotency-Key': idempotencyKey(), 'X-Queue-Token': queueToken(scheduleId) ?? '' },
      });
      expired = true;  // stops the countdown
      sessionStorage.removeItem(queueKey(scheduleId));
      if (paid.status === 202) return await followPending(paid.body);
      notice('success', t('paid'));
      navigate('#/reservations', { keepNotice: true });
    } catch (error) {
      if (error instanceof ApiError && error.problem?.type?.endsWith('/hold-expired')) {
        expired = true;
        countdown.textContent = '0:00';
      } else {
        payButton.disabled = false;
      }
      showProblem(error, { ...context, retry: () => pay() });
    }
  };
  // A 202: the card company's answer was lost and recovery will settle the payment; show that it is being
  // settled, follow it, and go on by itself when it is.
  const followPending = async (payment) => {
    const progress = h('progress', { 'aria-label': t('paymentSettling') });
    const said = h('p', { id: 'payment-progress' }, t('paymentSettling'));
    form.replaceChildren(h('div', { class: 'pending', role: 'status', 'aria-live': 'polite' }, said, progress));
    const settled = await settlePayment(api, payment.id, {
      signal,
      onProgress: (attempt, seconds) => { said.textContent = t('paymentSettlingFor', { seconds }); },
    });
    if (settled.state === 'APPROVED') {
      notice('success', t('paid'));
      navigate('#/reservations', { keepNotice: true });
    } else {
      notice('error', t('paymentNotTaken'), [{ label: t('navReservations'), run: () => navigate('#/reservations') }], 'payment-failed');
      said.textContent = t('paymentNotTaken');
      progress.remove();
    }
  };
  const form = h('form', { onsubmit: pay, 'aria-label': t('checkoutTitle') },
    h('fieldset', {}, h('legend', {}, t('payMethod')),
      method('POINTS', 'methodPoints', balance >= reservation.totalPrice),
      method('CARD', 'methodCard', balance < reservation.totalPrice),
      method('POINTS+CARD', 'methodSplit', false)),
    pointsLabel,
    h('p', {}, `${t('balance')}: `, h('strong', { id: 'balance' }, formatWon(balance))),
    h('div', { class: 'row' }, payButton,
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try {
          await api('DELETE', `/api/v1/reservations/${reservationId}`);
          expired = true;
          notice('info', t('released'));
          navigate(`#/seats/${scheduleId}`, { keepNotice: true });
        } catch (error) {
          showProblem(error, context);
        }
      } }, t('releaseButton'))));

  main.replaceChildren(
    h('h1', {}, t('checkoutTitle')),
    h('div', { class: 'split' },
      h('section', { class: 'card' },
        h('p', {}, t('holdCountdown')), countdown, warning, h('p', { class: 'muted' }, t('holdExpiresHint')),
        h('ul', { class: 'plain', id: 'held-seats' },
          reservation.seats.map((s) => h('li', {}, `${layout.zones.find((z) => z.id === s.zoneId)?.name ?? ''} ${seatName(layout, s.seatId)} · ${formatWon(s.price)}`))),
        h('p', {}, `${t('total')}: `, h('strong', {}, formatWon(reservation.totalPrice)))),
      h('section', { class: 'card' }, form)),
  );
  tick();
}

/// A reservation that is no longer HELD, on the checkout page: say what happened and what to do.
function showEnded(reservation, context) {
  if (reservation.state === 'EXPIRED') {
    showProblem(new ApiError({ type: 'https://marquee.dev/problems/hold-expired', status: 410 }), context);
  } else if (reservation.state === 'CONFIRMED') {
    notice('success', t('paid'));
  } else {
    notice('info', t('released'), [{ label: t('backToSeats'), run: () => navigate(`#/seats/${context.scheduleId}`) }]);
  }
  const countdown = document.getElementById('countdown');
  if (countdown) countdown.textContent = '0:00';
  document.getElementById('pay')?.setAttribute('disabled', '');
  if (!countdown) main.replaceChildren(h('h1', {}, t('checkoutTitle')), h('p', { class: `state ${reservation.state}` }, t(`state_${reservation.state}`)));
}

async function renderReservations(signal) {
  main.replaceChildren(h('h1', {}, t('reservationsTitle')), h('p', { class: 'muted' }, t('loading')));
  const list = (await api('GET', '/api/v1/reservations', { signal })).body.items;
  const layouts = new Map();
  for (const id of new Set(list.map((r) => r.scheduleId))) {
    layouts.set(id, (await api('GET', `/api/v1/schedules/${id}/seat-map`, { signal, auth: false })).body);
  }
  main.replaceChildren(
    h('h1', {}, t('reservationsTitle')),
    list.length === 0
      ? h('p', {}, t('noReservations'))
      : h('table', { id: 'reservations' },
        h('thead', {}, h('tr', {}, ['colBooked', 'colSeats', 'total', 'colState', 'colAction'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, list.map((r) => h('tr', { 'data-reservation-id': r.id },
          h('td', {}, formatDate(r.createdAt)),
          h('td', {}, r.seats.map((s) => seatName(layouts.get(r.scheduleId), s.seatId)).join(', ')),
          h('td', {}, formatWon(r.totalPrice)),
          h('td', { class: `state ${r.state}` }, t(`state_${r.state}`)),
          h('td', {}, r.state === 'HELD' ? h('a', { href: `#/checkout/${r.id}` }, t('continueCheckout'))
            : r.state === 'CONFIRMED' ? cancelButton(r) : ''))))),
  );
}

/// 예매 취소 (ADR 0028): cancels a paid reservation; the refund (points now, card through the gateway) and the fee
/// kept are shown, then the list again. A 409 (not-cancellable, cancellation-closed) is shown as a problem.
function cancelButton(r) {
  const ko = language() === 'ko';
  return h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', onclick: async (e) => {
    if (!window.confirm(ko ? '예매를 취소할까요? 취소 수수료가 있을 수 있습니다.' : 'Cancel this booking? A fee may apply.')) return;
    e.target.disabled = true;
    try {
      const { refund } = (await api('POST', `/api/v1/reservations/${r.id}/cancel`, { headers: { 'Idempotency-Key': idempotencyKey() } })).body;
      notice('info', ko ? `취소되었습니다. 환불: 포인트 ${formatWon(refund.points)}, 카드 ${formatWon(refund.card)}${refund.state === 'PENDING' ? ' (처리 중)' : ''}, 수수료 ${formatWon(refund.fee)}`
        : `Cancelled. Refund: ${formatWon(refund.points)} points, ${formatWon(refund.card)} card${refund.state === 'PENDING' ? ' (in progress)' : ''}, fee ${formatWon(refund.fee)}`);
      navigate('#/reservations', { keepNotice: true });
    } catch (error) {
      e.target.disabled = false;
      showProblem(error);
    }
  } }, ko ? '예매 취소' : 'Cancel booking');
}

async function renderWallet(signal) {
  main.replaceChildren(h('h1', {}, t('walletTitle')), h('p', { class: 'muted' }, t('loading')));
  const wallet = (await api('GET', '/api/v1/wallet', { signal })).body;
  const topUp = async (e) => {
    e?.preventDefault();
    const amount = Number(new FormData(form).get('amount'));
    try {
      const charged = await api('POST', '/api/v1/wallet/charges', {
        body: { amount },
        headers: { 'Idempotency-Key': idempotencyKey() },
      });
      if (charged.status === 202) notice('info', t('paymentPending'));
      else notice('success', t('toppedUp', { amount: formatWon(amount), balance: formatWon(charged.body.balance) }));
      navigate('#/wallet', { keepNotice: true });
    } catch (error) {
      showProblem(error, { retry: () => topUp() });
    }
  };
  const form = h('form', { onsubmit: topUp, 'aria-labelledby': 'topup-title' },
    h('h2', { id: 'topup-title' }, t('topUpTitle')),
    h('label', {}, t('amount'), h('input', { type: 'number', name: 'amount', min: '1000', max: '10000000', step: '1000', value: '100000', required: true })),
    h('button', { type: 'submit' }, t('topUpButton')));
  main.replaceChildren(
    h('h1', {}, t('walletTitle')),
    h('div', { class: 'split' },
      h('section', { class: 'card' }, h('p', {}, t('balance')), h('div', { class: 'countdown', id: 'balance' }, formatWon(wallet.balance)), form),
      h('section', { class: 'card' }, h('h2', {}, t('ledger')),
        h('table', {}, h('tbody', {}, wallet.ledger.map((e) => h('tr', {},
          h('td', {}, formatDate(e.createdAt)), h('td', {}, t(`kind_${e.kind}`)),
          h('td', {}, formatWon(e.amount)), h('td', { class: 'muted' }, formatWon(e.balanceAfter)))))))),
  );
}

// ---- routing ----------------------------------------------------------------------------------------------

async function route() {
  viewAbort?.abort();
  viewAbort = new AbortController();
  const { signal } = viewAbort;
  if (!keepNoticeOnce) clearNotice();
  keepNoticeOnce = false;
  const [, view = '', id] = location.hash.split('/');
  if (!session() && view !== 'login') {
    if (view) sessionStorage.setItem('marquee.after-login', location.hash);
    return navigate('#/login', { keepNotice: true });
  }
  renderChrome();
  try {
    if (view === 'login') renderLogin();
    else if (view === 'queue') await renderQueue(id, signal);
    else if (view === 'seats') await renderSeats(id, signal);
    else if (view === 'checkout') await renderCheckout(id, signal);
    else if (view === 'reservations') await renderReservations(signal);
    else if (view === 'wallet') await renderWallet(signal);
    else await renderConcerts(signal);
  } catch (error) {
    if (signal.aborted || error?.name === 'AbortError') return;
    showProblem(error, { retry: () => route() });
  }
  if (!signal.aborted) main.focus({ preventScroll: true });
}

document.getElementById('lang').addEventListener('change', (e) => {
  setLanguage(e.target.value);
  keepNoticeOnce = false;
  route();
});
window.addEventListener('hashchange', route);
setLanguage(language());
route();
