// Browser test of the operator page (web/admin.html, issue 17, ADR 0027): headless Chromium through
// playwright-core against the real binary and the local services. Run by `tests/web/run admin.test.mjs`
// (ctest web_admin, label web). No sleeps: every wait is for something the page shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { adminToken, call, launchBrowser, login, makeSchedule, newFan, newPage, startMarquee } from './harness.mjs';

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
    marquee = await startMarquee({ MARQUEE_QUEUE_TICK_MS: '100' });
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
