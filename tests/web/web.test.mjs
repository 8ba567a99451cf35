// Browser tests of the web app (issue 9): Debian's Chromium, headless, driven by playwright-core against the
// real `marquee` binary and the local PostgreSQL, Redis, NATS and pg-sim. Run by tests/web/run (ctest label
// `web`). No sleeps: every wait is for something the page shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  adminToken, call, launchBrowser, login, loginThroughUi, makeSchedule, newFan, newPage, startMarquee, startPgSim,
  uniqueName,
} from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/// Collects uncaught errors and console errors (a Content-Security-Policy violation is one) of the page; the
/// browser's own log line for each 4xx/5xx answer is expected (the tests provoke them) and left out.
function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  return errors;
}

const hashStartsWith = (page, prefix) =>
  page.waitForFunction((p) => location.hash.startsWith(p), prefix, { timeout: 30_000 });

/// From anywhere to the seat map of `scheduleId`, through the waiting room.
async function throughWaitingRoom(page, scheduleId) {
  await page.goto(`/#/queue/${scheduleId}`);
  await hashStartsWith(page, `#/seats/${scheduleId}`);
  await page.locator('svg.seatmap circle.seat').first().waitFor();
}

describe('with the default hold time', () => {
  let marquee;
  let data;
  before(async () => {
    marquee = await startMarquee();
    data = await makeSchedule(marquee.url, await adminToken(marquee.url));
  });
  after(async () => {
    await marquee?.stop();
  });

  test('the server serves the app with its type and ETag, and refuses what is not in web/', async () => {
    const index = await fetch(`${marquee.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    const etag = index.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    assert.equal((await fetch(`${marquee.url}/`, { headers: { 'If-None-Match': etag } })).status, 304);
    const js = await fetch(`${marquee.url}/app/app.js`, { method: 'HEAD' });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    for (const target of ['/app/%2e%2e%2fCMakeLists.txt', '/app/..%2f..%2fetc%2fpasswd', '/app/%2fetc%2fpasswd', '/app/nothing.js']) {
      const refused = await fetch(marquee.url + target);
      assert.equal(refused.status, 404, target);
      assert.equal(refused.headers.get('content-type'), 'application/problem+json', target);
    }
    assert.equal((await fetch(`${marquee.url}/`, { method: 'POST' })).status, 405);
  });

  test('one fan signs up, queues, holds two seats, is told to top up, tops up and pays with points (Korean labels)', async () => {
    const page = await newPage(browser, marquee.url, 'ko-KR');
    const errors = watchErrors(page);
    const email = `${uniqueName('webbuyer')}@example.com`;
    const name = uniqueName('Buyer').slice(0, 20);

    await page.goto('/');
    await hashStartsWith(page, '#/login');
    const signup = page.locator('form[aria-labelledby=signup-title]');
    await signup.getByLabel('이름').fill(name);
    await signup.getByLabel('이메일').fill(email);
    await signup.getByLabel('비밀번호').fill('Tickets-2026');
    await signup.getByRole('button', { name: '가입하기' }).click();
    await page.locator('.notice.success').getByText('가입이 완료되었습니다').waitFor();
    const login = page.locator('form[aria-labelledby=login-title]');
    await login.getByLabel('비밀번호').fill('Tickets-2026');
    await login.getByRole('button', { name: '로그인' }).click();
    await page.locator('#nav .who').getByText(name).waitFor();

    await page.getByRole('link', { name: '공연' }).click();
    await page.locator(`li[data-schedule-id="${data.schedule.id}"]`).getByRole('link', { name: '예매하기' }).click();
    await hashStartsWith(page, `#/seats/${data.schedule.id}`);

    const [first, second] = data.seats;
    await page.locator(`circle[data-seat-id="${first.id}"]`).click();
    // Keyboard works too: focus the second seat and press Space.
    await page.locator(`circle[data-seat-id="${second.id}"]`).focus();
    await page.keyboard.press('Space');
    await page.locator('#selected-seats li').nth(1).waitFor();
    assert.match(await page.locator('#total').textContent(), /308,000/);
    await page.locator('#hold').click();
    await hashStartsWith(page, '#/checkout/');
    assert.match(await page.locator('#countdown').textContent(), /^[45]:\d\d$/);

    // No points yet: paying with points is refused (402), and the message says to top up.
    await page.getByLabel('포인트', { exact: true }).check();
    await page.getByRole('button', { name: /결제하기/ }).click();
    const refused = page.locator('[data-problem="insufficient-points"]');
    assert.match(await refused.textContent(), /포인트가 부족합니다/);
    await refused.getByRole('button', { name: '포인트 충전하기' }).click();
    await hashStartsWith(page, '#/wallet');
    await page.getByLabel('금액 (원)').fill('400000');
    await page.getByRole('button', { name: '충전하기' }).click();
    await page.locator('.notice.success').waitFor();
    await page.locator('#balance').getByText('400,000').waitFor();

    // The hold is still there: back to it from my reservations, and pay.
    await page.getByRole('link', { name: '내 예매' }).click();
    await page.getByRole('link', { name: '결제 계속하기' }).click();
    await hashStartsWith(page, '#/checkout/');
    await page.getByRole('button', { name: /결제하기/ }).click();
    await hashStartsWith(page, '#/reservations');
    await page.locator('.notice.success').getByText('결제 완료').waitFor();
    const row = page.locator('#reservations tbody tr').first();
    await row.getByText('예매 확정').waitFor();
    assert.match(await row.textContent(), /308,000/);
    // 예매 취소 (ADR 0028): a month before the show it is free, and the points come back.
    page.once('dialog', (dialog) => dialog.accept());
    await row.getByRole('button', { name: '예매 취소' }).click();
    await page.locator('.notice').getByText(/취소되었습니다/).waitFor();
    await page.locator('#reservations tbody tr').first().getByText('취소됨').waitFor();
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('two fans race for one seat: one holds it, the other is told it was taken', async () => {
    const seat = data.seats[30];
    const pages = [];
    for (const prefix of ['racer', 'racer', 'observer']) {
      const page = await newPage(browser, marquee.url);
      page.errors = watchErrors(page);
      await loginThroughUi(page, await newFan(marquee.url, prefix));
      await throughWaitingRoom(page, data.schedule.id);
      pages.push(page);
    }
    const [a, b, observer] = pages;
    for (const page of [a, b]) {
      await page.locator(`circle[data-seat-id="${seat.id}"]`).click();
      await page.locator(`circle[data-seat-id="${seat.id}"][aria-checked=true]`).waitFor();
    }
    // Both at once. `force`: if the winner's hold reaches the other page's live map first, that page has already
    // dropped the seat and disabled its button; the click then does nothing and the page shows why.
    await Promise.all([a.locator('#hold').click({ force: true }), b.locator('#hold').click({ force: true })]);
    const outcome = async (page) => {
      await page.waitForFunction(
        () => location.hash.startsWith('#/checkout/') || document.querySelector('[data-problem="seat-taken"]'),
      );
      return page.evaluate(() => (location.hash.startsWith('#/checkout/') ? 'won' : 'lost'));
    };
    const results = await Promise.all([outcome(a), outcome(b)]);
    assert.deepEqual([...results].sort(), ['lost', 'won']);
    const loser = results[0] === 'lost' ? a : b;
    const message = loser.locator('[data-problem="seat-taken"]');
    assert.match(await message.textContent(), new RegExp(`Row ${seat.row}, seat ${seat.number}`));
    assert.equal(await loser.locator(`circle[data-seat-id="${seat.id}"]`).getAttribute('aria-checked'), 'false');
    // The observer clicked nothing: the seat greys on its map from the availability stream.
    await observer.locator(`circle.taken[data-seat-id="${seat.id}"]`).waitFor({ timeout: 30_000 });
    for (const page of pages) assert.deepEqual(page.errors, []);
    for (const page of pages) await page.context().close();
  });
});

describe('with a 5-second hold', () => {
  let marquee;
  before(async () => {
    marquee = await startMarquee({ MARQUEE_HOLD_TTL_S: '5' });
  });
  after(async () => {
    await marquee?.stop();
  });

  test('a hold that runs out says so, offers the seat map again and reads Expired in my reservations', async () => {
    const data = await makeSchedule(marquee.url, await adminToken(marquee.url));
    const page = await newPage(browser, marquee.url);
    const errors = watchErrors(page);
    await loginThroughUi(page, await newFan(marquee.url, 'webexpiry'));
    await throughWaitingRoom(page, data.schedule.id);
    await page.locator(`circle[data-seat-id="${data.seats[5].id}"]`).click();
    await page.locator('#hold').click();
    await hashStartsWith(page, '#/checkout/');
    await page.locator('#countdown').waitFor();

    const expired = page.locator('[data-problem="hold-expired"]');
    await expired.waitFor({ timeout: 30_000 });
    assert.match(await expired.textContent(), /hold has expired.*pick your seats again/);
    assert.equal(await page.locator('#pay').isDisabled(), true);
    await expired.getByRole('button', { name: 'Back to the seat map' }).click();
    await hashStartsWith(page, `#/seats/${data.schedule.id}`);

    await page.getByRole('link', { name: 'My reservations' }).click();
    await page.locator('#reservations tbody tr').first().getByText('Expired').waitFor();
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});

describe('with a payment gateway of its own', () => {
  let pg;
  let marquee;
  before(async () => {
    pg = await startPgSim();
    marquee = await startMarquee({ MARQUEE_PAYMENT_GATEWAY_URL: pg.url });
  });
  after(async () => {
    await marquee?.stop();
    await pg?.stop();
  });

  test('a declined card and a gateway that does not answer are explained, and nothing is charged', async () => {
    const fan = await newFan(marquee.url, 'webpgfail');
    const page = await newPage(browser, marquee.url);
    const errors = watchErrors(page);
    await loginThroughUi(page, fan);
    await page.getByRole('link', { name: 'Wallet' }).click();
    await page.getByLabel('Amount (KRW)').fill('50000');

    await pg.setFaults({ declineRate: 1 });
    await page.getByRole('button', { name: 'Top up' }).click();
    const declined = page.locator('[data-problem="card-declined"]');
    assert.match(await declined.textContent(), /card was declined\. Nothing was charged/);

    await pg.setFaults({ declineRate: 0, down: true });
    await declined.getByRole('button', { name: 'Try again' }).click();
    const down = page.locator('[data-problem="pg-unavailable"]');
    assert.match(await down.textContent(), /card company is not answering.*Nothing was charged: try again in \d+ s/);

    const wallet = await call(marquee.url, 'GET', '/api/v1/wallet', { token: await login(marquee.url, fan) });
    assert.equal(wallet.balance, 0);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
