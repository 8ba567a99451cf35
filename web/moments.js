// The sale's live moments that are not the seat map (issue 18): the countdown to a pre-queue's opening,
// the sold-out screen with what to do next, and a pending payment that is followed until it settles.
import { h } from './dom.js';
import { t } from './i18n.js';

/// "1:02:03" / "2:03" until `iso`, never below 0:00.
export function countdownText(iso, now = Date.now()) {
  const s = Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/// Keeps `element` counting down to `opensAt` every second until `signal` aborts, the time comes, or the
/// returned function is called (the token became WAITING).
export function preQueueCountdown(element, opensAt, signal) {
  let stopped = false;
  const tick = () => {
    if (signal.aborted || stopped) return;
    element.textContent = t('preQueueOpensIn', { time: countdownText(opensAt) });
    if (Date.parse(opensAt) > Date.now()) setTimeout(tick, 1000 - (Date.now() % 1000));
  };
  tick();
  return () => {
    stopped = true;
  };
}

/// The sold-out screen: nothing left now, and what the fan can still do.
export function soldOutPanel() {
  return h('section', { class: 'card sold-out', id: 'sold-out', 'aria-labelledby': 'sold-out-title' },
    h('h2', { id: 'sold-out-title' }, t('soldOutTitle')),
    h('p', {}, t('soldOutBody')),
    h('div', { class: 'row' },
      h('a', { class: 'button secondary', href: '#/concerts' }, t('otherDates')),
      h('a', { class: 'button secondary', href: '#/reservations' }, t('navReservations'))));
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    reject(new DOMException('aborted', 'AbortError'));
  }, { once: true });
});

/// Follows a PENDING payment (a 202) with GET /payments/{id} until it is no longer PENDING, waiting 1 s,
/// then half as long again each time up to 5 s; onProgress(attempt, elapsedSeconds) before each look.
export async function settlePayment(api, paymentId, { signal, onProgress = () => {} }) {
  const started = Date.now();
  let delay = 1000;
  for (let attempt = 1; ; ++attempt) {
    await sleep(delay, signal);
    onProgress(attempt, Math.round((Date.now() - started) / 1000));
    const payment = (await api('GET', `/api/v1/payments/${paymentId}`, { signal })).body;
    if (payment.state !== 'PENDING') return payment;
    delay = Math.min(5000, delay * 1.5);
  }
}
