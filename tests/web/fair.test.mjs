// Browser test of the fair start and the proof of work at the waiting room's door (ADR 0026): the page fetches
// the challenge, solves it in the Web Worker (web/pow-worker.js) under the app's Content-Security-Policy, joins
// with the answer, shows the countdown while PRE_QUEUE, and is admitted after the opening's shuffle. Run by
// tests/web/run fair.test.mjs (ctest web_fair, label web). No sleeps: every wait is for something the page shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { adminToken, call, launchBrowser, loginThroughUi, newFan, newPage, startMarquee, uniqueName } from './harness.mjs';

describe('a fair start with proof of work at the door', () => {
  let marquee;
  let browser;
  before(async () => {
    marquee = await startMarquee({
      MARQUEE_QUEUE_POW_DIFFICULTY: '12',
      MARQUEE_QUEUE_TICK_MS: '100',
      MARQUEE_QUEUE_SCHEDULES_KEY: `queue:schedules:${uniqueName('web-fair')}`,
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await marquee?.stop();
  });

  test('a fan solves the challenge in a worker, sees the countdown, and is admitted after the opening', async () => {
    const token = await adminToken(marquee.url);
    const concert = await call(marquee.url, 'POST', '/api/v1/admin/concerts', {
      token,
      body: { title: uniqueName('Fair start'), artist: 'Marquee Band', venue: 'Test Hall', description: 'fair start' },
    });
    const day = 24 * 3600 * 1000;
    const fan = await newFan(marquee.url, 'fairfan');
    const page = await newPage(browser, marquee.url);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    await loginThroughUi(page, fan);
    // Booking opens 15 s from now: the fan joins before it.
    const schedule = await call(marquee.url, 'POST', `/api/v1/admin/concerts/${concert.id}/schedules`, {
      token,
      body: {
        startsAt: new Date(Date.now() + 30 * day).toISOString(),
        bookingOpensAt: new Date(Date.now() + 15_000).toISOString(),
        bookingClosesAt: new Date(Date.now() + 29 * day).toISOString(),
      },
    });
    const challenges = [];
    const joins = [];
    page.on('request', (r) => {
      if (r.url().endsWith(`/schedules/${schedule.id}/queue/challenge`)) challenges.push(r);
      if (r.method() === 'POST' && r.url().endsWith(`/schedules/${schedule.id}/queue`)) joins.push(r.postDataJSON());
    });
    await page.goto(`/#/queue/${schedule.id}`);
    await page.locator('#queue-eta').getByText(/Booking opens in/).waitFor();
    assert.equal(challenges.length, 1);
    assert.equal(joins.length, 2, 'a plain join (403 pow-required), then the join with the answer');
    assert.equal(joins[0], null);
    assert.match(joins[1].nonce, /^\d+$/, 'the join carries the worker\'s answer');
    assert.deepEqual(errors, [], 'no script or Content-Security-Policy error while solving');
    // Reopening the waiting room: the fan's live token comes back without another challenge.
    await page.reload();
    await page.locator('#queue-eta').getByText(/Booking opens in/).waitFor();
    assert.equal(joins.length, 3);
    assert.equal(challenges.length, 1, 'no new work for a fan already in the queue');
    await page.waitForFunction((p) => location.hash.startsWith(p), `#/seats/${schedule.id}`, { timeout: 40_000 });
  });
});
