// Writes docs/screenshots/*.png: the main pages of the web app as a fan sees them, against the real binary
// and the local services (tests/web/run screenshots.mjs). The waiting room is shown with fans ahead in line:
// admission runs at 1 per second here, and five API fans join before the one in the browser.
import fs from 'node:fs';
import path from 'node:path';

import {
  adminToken, call, launchBrowser, login, loginThroughUi, makeSchedule, newFan, newPage, sourceDir, startMarquee,
} from './harness.mjs';

const out = path.join(sourceDir, 'docs/screenshots');
fs.mkdirSync(out, { recursive: true });
const marquee = await startMarquee({ MARQUEE_QUEUE_ADMIT_PER_SECOND: '1' });
const browser = await launchBrowser();
try {
  const data = await makeSchedule(marquee.url, await adminToken(marquee.url), { title: 'IU 2027 Concert: The Golden Hour' });
  const id = data.schedule.id;
  const shot = async (page, name, fullPage = true) => {
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage });
    console.log(`wrote docs/screenshots/${name}.png`);
  };
  const waitHash = (page, prefix) => page.waitForFunction((p) => location.hash.startsWith(p), prefix, { timeout: 60_000 });

  // Someone holds a few seats first, so the map shows taken seats greyed.
  const early = await newFan(marquee.url, 'shotearly');
  const earlyToken = await login(marquee.url, early);
  const joined = await call(marquee.url, 'POST', `/api/v1/schedules/${id}/queue`, { token: earlyToken });
  await fetch(`${marquee.url}/api/v1/queue/me/events?scheduleId=${id}`, { headers: { Authorization: `Bearer ${earlyToken}` } })
    .then((r) => r.text());
  await call(marquee.url, 'POST', '/api/v1/reservations', {
    token: earlyToken,
    headers: { 'X-Queue-Token': joined.token },
    body: { scheduleId: id, seatIds: [data.seats[4].id, data.seats[5].id, data.seats[6].id, data.seats[7].id] },
  });

  const ko = await newPage(browser, marquee.url, 'ko-KR');
  await ko.goto('/#/login');
  await ko.locator('form[aria-labelledby=login-title]').waitFor();
  await shot(ko, 'login-ko');
  await ko.context().close();

  const page = await newPage(browser, marquee.url, 'en-US');
  const fan = await newFan(marquee.url, 'shotfan');
  await loginThroughUi(page, fan);
  await call(marquee.url, 'POST', '/api/v1/wallet/charges', {
    token: await login(marquee.url, fan), headers: { 'Idempotency-Key': `shot-${Date.now()}` }, body: { amount: 500000 },
  });
  await page.goto('/#/concerts');
  await page.locator(`li[data-schedule-id="${id}"]`).waitFor();
  await shot(page, 'concerts', false); // the shared database may hold many concerts: the first screenful

  // Fans ahead in line, just before ours joins.
  const ahead = [];
  for (let i = 0; i < 8; ++i) ahead.push(await login(marquee.url, await newFan(marquee.url, 'shotahead')));
  for (const token of ahead) await call(marquee.url, 'POST', `/api/v1/schedules/${id}/queue`, { token });
  await page.locator(`li[data-schedule-id="${id}"] a.button`).click();
  await page.waitForFunction(() => Number(document.getElementById('queue-position')?.textContent) > 1);
  await shot(page, 'waiting-room');

  await waitHash(page, `#/seats/${id}`);
  await page.locator('.zone-overview[data-ready]').waitFor();
  await shot(page, 'zones');
  await page.locator(`.zone-overview [data-zone-id="${data.seats[1].zoneId}"]`).click();
  await page.locator('.seatgrid canvas').waitFor();
  for (const seat of [data.seats[1], data.seats[2]]) {
    const p = await page.evaluate((sid) => document.querySelector('.seatgrid').seatGrid.pointOf(sid, 20), seat.id);
    await page.mouse.click(p.x, p.y);
  }
  await shot(page, 'seat-map');

  await page.locator('#hold').click();
  await waitHash(page, '#/checkout/');
  await page.locator('#countdown').waitFor();
  await shot(page, 'checkout');

  await page.locator('#pay').click();
  await waitHash(page, '#/reservations');
  await page.locator('#reservations tbody tr').first().waitFor();
  await shot(page, 'my-reservations');

  await page.goto('/#/wallet');
  await page.locator('#balance').waitFor();
  await shot(page, 'wallet');

  // A phone (390×844, touch), in Korean: the zone overview, a zone's seats zoomed to finger size, checkout.
  const phone = await browser.newContext({
    locale: 'ko-KR', baseURL: marquee.url, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
    isMobile: true, hasTouch: true,
  });
  const mobile = await phone.newPage();
  const phoneFan = await newFan(marquee.url, 'shotphone');
  await loginThroughUi(mobile, phoneFan);
  await call(marquee.url, 'POST', '/api/v1/wallet/charges', {
    token: await login(marquee.url, phoneFan), headers: { 'Idempotency-Key': `shot-phone-${Date.now()}` }, body: { amount: 500000 },
  });
  await mobile.goto(`/#/queue/${id}`);
  await waitHash(mobile, `#/seats/${id}`);
  await mobile.locator('.zone-overview[data-ready]').waitFor();
  await shot(mobile, 'phone-zones', false);
  const seat = data.seats[40];
  await mobile.locator(`.zone-overview [data-zone-id="${seat.zoneId}"]`).tap();
  await mobile.locator('.seatgrid canvas').waitFor();
  let p = await mobile.evaluate((sid) => document.querySelector('.seatgrid').seatGrid.pointOf(sid), seat.id);
  await mobile.touchscreen.tap(p.x, p.y); // zooms to finger size
  p = await mobile.evaluate((sid) => document.querySelector('.seatgrid').seatGrid.pointOf(sid), seat.id);
  await mobile.touchscreen.tap(p.x, p.y); // selects
  await mobile.locator('#zone-panel').scrollIntoViewIfNeeded();
  await shot(mobile, 'phone-seats', false);
  await mobile.locator('#hold').tap();
  await waitHash(mobile, '#/checkout/');
  await mobile.locator('#countdown').waitFor();
  await shot(mobile, 'phone-checkout', false);
  await phone.close();
} finally {
  await browser.close();
  await marquee.stop();
}
