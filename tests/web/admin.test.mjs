// Browser test of the operator page (web/admin.html, issue 17, ADR 0027): headless Chromium through
// playwright-core against the real binary and the local services. Run by `tests/web/run admin.test.mjs`
// (ctest web_admin, label web). No sleeps: every wait is for something the page shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  adminToken, call, launchBrowser, login, loginThroughUi, makeSchedule, newFan, newPage, startMarquee,
} from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  return errors;
}

/// A page whose session holds `token` (what the login form would store).
async function pageWithToken(url, token) {
  const page = await newPage(browser, url);
  await page.addInitScript((t) => sessionStorage.setItem('marquee.session', JSON.stringify({ accessToken: t })), token);
  return page;
}

describe('the operator page', () => {
  let marquee;
  let admin;
  let data;
  before(async () => {
    marquee = await startMarquee({
      MARQUEE_QUEUE_TICK_MS: '100',
      // Only this process admits this suite's schedules: another suite's process, sharing the local Redis,
      // applies a pause only at its next poll of the controls (ADR 0027) and could admit a fan meanwhile.
      MARQUEE_QUEUE_SCHEDULES_KEY: `queue:schedules:web-admin-${process.pid}`,
    });
    admin = await adminToken(marquee.url);
    data = await makeSchedule(marquee.url, admin);
  });
  after(async () => {
    await marquee?.stop();
  });

  test('shows the live figures, pauses admission, and lists the change in the audit', async () => {
    const id = data.schedule.id;
    const page = await pageWithToken(marquee.url, admin);
    const errors = watchErrors(page);
    await page.goto(`/app/admin.html?schedule=${id}`);
    await page.locator('#stats').getByRole('cell', { name: 'Waiting', exact: true }).waitFor();
    await page.locator('#zones').getByRole('cell', { name: 'VIP', exact: true }).waitFor();

    const form = page.locator('#controls');
    await form.locator('input[name=paused]').check();
    await form.locator('input[name=holdExtensionSeconds]').fill('120');
    await form.locator('button[type=submit]').click();
    await page.locator('#notice .notice.success').waitFor();
    await page.locator('#audit').getByRole('cell', { name: 'holdExtensionSeconds', exact: true }).waitFor();
    const controls = await call(marquee.url, 'GET', `/api/v1/admin/schedules/${id}/controls`, { token: admin });
    assert.equal(controls.paused, true);
    assert.equal(controls.holdExtensionSeconds, 120);

    // A fan joins the paused room: the page's next refresh shows them waiting.
    const fan = await login(marquee.url, await newFan(marquee.url));
    await call(marquee.url, 'POST', `/api/v1/schedules/${id}/queue`, { token: fan });
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#stats td')].map((td) => td.textContent);
      return cells[cells.indexOf('Waiting') + 1] === '1';
    });
    // ADR 0033: the fan's own page says admission is paused instead of counting down an ETA.
    const fanPage = await pageWithToken(marquee.url, fan);
    const fanErrors = watchErrors(fanPage);
    await fanPage.goto(`/#/queue/${id}`);
    await fanPage.locator('#queue-eta').getByText(/^Admission paused by the organiser/).waitFor();
    assert.equal(await fanPage.locator('#queue-position').textContent(), '1');
    assert.deepEqual(fanErrors, []);
    await fanPage.context().close();
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a pause applied on the operator page keeps a fan\'s waiting room waiting, and lifting it admits them', async () => {
    const paused = await makeSchedule(marquee.url, admin);
    const id = paused.schedule.id;
    const operator = await pageWithToken(marquee.url, admin);
    const operatorErrors = watchErrors(operator);
    await operator.goto(`/app/admin.html?schedule=${id}`);
    await operator.locator('#stats').getByRole('cell', { name: 'Waiting', exact: true }).waitFor();
    const form = operator.locator('#controls');
    await form.locator('input[name=paused]').check();
    await form.locator('button[type=submit]').click();
    await operator.locator('#notice .notice.success').getByText('Applied: paused').waitFor();

    // The fan's page (the app itself, through the real waiting room): WAITING, first in line.
    const page = await newPage(browser, marquee.url);
    const errors = watchErrors(page);
    const fan = await newFan(marquee.url, 'webpaused');
    await loginThroughUi(page, fan);
    await page.goto(`/#/queue/${id}`);
    await page.locator('#queue-position').getByText('1', { exact: true }).waitFor();
    // Admission keeps running for the other schedules: a fan of an unpaused one is admitted meanwhile...
    const other = await makeSchedule(marquee.url, admin);
    const witness = await login(marquee.url, await newFan(marquee.url));
    await call(marquee.url, 'POST', `/api/v1/schedules/${other.schedule.id}/queue`, { token: witness });
    for (const deadline = Date.now() + 30_000; ;) {
      const now = await call(marquee.url, 'GET', `/api/v1/queue/me?scheduleId=${other.schedule.id}`, { token: witness });
      if (now.state === 'ACTIVE') break;
      assert.ok(Date.now() < deadline, `the witness is still ${now.state}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // ...while the paused one's fan is still WAITING (the queue's answer does not say "paused").
    const mine = await call(marquee.url, 'GET', `/api/v1/queue/me?scheduleId=${id}`, { token: await login(marquee.url, fan) });
    assert.equal(mine.state, 'WAITING');
    assert.equal(await page.evaluate(() => location.hash), `#/queue/${id}`);
    assert.equal(await page.locator('#queue-position').textContent(), '1');
    await operator.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#stats td')].map((td) => td.textContent);
      return cells[cells.indexOf('Waiting') + 1] === '1';
    });

    // Lifted on the operator page: the fan's page goes on to the seat map by itself.
    await form.locator('input[name=paused]').uncheck();
    await form.locator('button[type=submit]').click();
    await operator.locator('#notice .notice.success').getByText('Applied: paused').waitFor();
    await page.waitForFunction((p) => location.hash.startsWith(p), `#/seats/${id}`, { timeout: 30_000 });
    await page.locator('.zone-overview[data-ready]').waitFor();
    assert.deepEqual(errors, []);
    assert.deepEqual(operatorErrors, []);
    await page.context().close();
    await operator.context().close();
  });

  test('tells a fan that the page is for operators', async () => {
    const fan = await login(marquee.url, await newFan(marquee.url));
    const page = await pageWithToken(marquee.url, fan);
    const errors = watchErrors(page);
    await page.goto(`/app/admin.html?schedule=${data.schedule.id}`);
    await page.locator('#notice').getByText('not an operator').waitFor();
    assert.equal(await page.locator('#schedule').isHidden(), true);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
