// The seat map's benchmark (issue 18): Chromium through playwright-core, a page of the web app on a
// 10,000-seat schedule shaped like the demo's schedule 9103 (VIP 10×100, R 20×100, S 30×100, A 40×100), and
// 1,000 seats changing state over 5 s on the availability stream. Prints figures; asserts nothing.
//   tests/web/run perf.mjs [--web DIR] [--label NAME] [--zone] [--scale N] [--shot FILE]
// --web: the web/ folder to serve (default this tree's; give an old copy to measure the old map the same way).
// --zone: open the largest zone's grid (the zone-first app only) before the changes start.
// --scale N: N times the rows (N × 10,000 seats), for "and beyond".
//
// The API is played by this script (documented shapes of GET /seat-map, /availability and its event stream,
// api/openapi.yaml), not by the marquee binary: what is measured is the browser's work, the same for both
// versions, and the changes arrive on a fixed schedule (50 events 100 ms apart, 20 seats each: ten times as
// often as the server's 500 ms version check would send them, so each event is small and frequent, the harsh case).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { launchBrowser, sourceDir } from './harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const webDir = path.resolve(option('--web', path.join(sourceDir, 'web')));
const label = option('--label', path.basename(path.dirname(webDir)) + '/web');
const openZone = args.includes('--zone');
const scale = Number(option('--scale', '1')); // rows × scale: --scale 4 is a 40,000-seat venue
const shot = option('--shot', null); // a screenshot of the page after the run (to look at)
const kSchedule = 9103;
const kEvents = 50;
const kPerEvent = 20;
const kEveryMs = 100;

// ---- the 10,000-seat layout, as scripts/demo/0003_catalog.sql lays it out ----------------------------------
const zoneDefs = [
  ['VIP', 198000, '#c0392b', 10, 100], ['R', 165000, '#8e44ad', 20, 100],
  ['S', 143000, '#2980b9', 30, 100], ['A', 121000, '#27ae60', 40, 100],
];
const zones = [];
const seats = [];
let rowNo = 0;
zoneDefs.forEach(([name, price, color, rows, perRow], z) => {
  zones.push({ id: z + 1, name, price, color, seatCount: rows * scale * perRow });
  for (let r = 0; r < rows * scale; ++r, ++rowNo) {
    const row = rowNo < 26 ? String.fromCharCode(65 + rowNo)
      : String.fromCharCode(64 + Math.floor(rowNo / 26) % 26 + 1) + String.fromCharCode(65 + (rowNo % 26));
    for (let n = 1; n <= perRow; ++n) {
      seats.push({ id: 100000 + seats.length, index: seats.length, row, number: n, x: n, y: rowNo + 1, zoneId: z + 1 });
    }
  }
});
const seatCount = seats.length;
const layout = { scheduleId: kSchedule, seatCount, zones, seats };

// A fixed pseudo-random sequence, so both versions see the same changes.
let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const bits = new Uint8Array(Math.ceil(seatCount / 8));
const flip = (i) => { bits[i >> 3] ^= 0x80 >> (i & 7); };
for (let i = 0; i < seatCount; ++i) if (random() < 0.3) flip(i); // 30 % taken before the page opens
let version = 1;
const doc = () => JSON.stringify({ scheduleId: kSchedule, version, seatCount, taken: Buffer.from(bits).toString('base64') });

const streams = new Set();
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
  if (url.pathname === '/' || url.pathname.startsWith('/app/')) {
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(5);
    const full = path.join(webDir, file);
    if (!full.startsWith(webDir) || !fs.existsSync(full)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': types[path.extname(full)] ?? 'application/octet-stream', 'Content-Security-Policy': csp, 'Cache-Control': 'no-cache' });
    return res.end(fs.readFileSync(full));
  }
  const json = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (url.pathname === `/api/v1/schedules/${kSchedule}/seat-map`) return json(200, layout);
  if (url.pathname === `/api/v1/schedules/${kSchedule}/availability`) return json(200, doc());
  if (url.pathname === `/api/v1/schedules/${kSchedule}/availability/events`) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(`event: availability\nid: ${version}\ndata: ${doc()}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
    return undefined;
  }
  if (url.pathname === `/api/v1/schedules/${kSchedule}`) {
    return json(200, { id: kSchedule, concertId: 9001, startsAt: '2027-09-20T09:00:00Z', bookingOpensAt: '2026-01-01T11:00:00Z', bookingClosesAt: '2027-09-20T07:00:00Z', seatCount, zones });
  }
  if (url.pathname === '/api/v1/auth/me') return json(200, { id: 1, email: 'bench@example.com', displayName: 'Bench' });
  return json(404, { type: 'https://marquee.dev/problems/not-found', status: 404, title: 'Not Found' });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

function broadcast() {
  for (let k = 0; k < kPerEvent; ++k) flip(Math.floor(random() * seatCount));
  ++version;
  for (const res of streams) res.write(`event: availability\nid: ${version}\ndata: ${doc()}\n\n`);
}

const browser = await launchBrowser();
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 900 } });
  await context.addInitScript((id) => {
    sessionStorage.setItem('marquee.session', JSON.stringify({ accessToken: 'bench', refreshToken: 'bench', name: 'Bench' }));
    sessionStorage.setItem(`marquee.queue.${id}`, 'bench-token');
    // Long tasks and frames from the first moment on.
    window.__bench = { longtasks: [], frames: [], recording: false };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__bench.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  }, kSchedule);
  // The ceiling in the same run: frames of a page doing nothing, 2 s (the display's own pace here).
  const idle = await context.newPage();
  await idle.setContent('<p>idle</p>');
  const idleFrames = await idle.evaluate(() => new Promise((resolve) => {
    const out = [];
    let last = performance.now();
    const frame = (now) => {
      out.push(now - last);
      last = now;
      if (out.length < 120) requestAnimationFrame(frame);
      else resolve(out.slice(1).sort((a, b) => a - b));
    };
    requestAnimationFrame(frame);
  }));
  await idle.close();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });

  await page.goto(`${base}/#/seats/${kSchedule}`);
  // Interactive: the overview (new app) or the map (old app) is drawn with the availability applied, seen from
  // a requestAnimationFrame callback (so the main thread was free to run it).
  await page.waitForFunction(() => {
    const ready = document.querySelector('.zone-overview[data-ready]') || document.querySelector('svg.seatmap circle.seat.taken');
    return Boolean(ready);
  }, null, { polling: 'raf', timeout: 120_000 });
  const interactiveMs = await page.evaluate(() => performance.now());
  const loadLongest = await page.evaluate(() => Math.max(0, ...window.__bench.longtasks.map((t) => t.duration)));

  if (openZone) {
    await page.locator('.zone-overview [data-zone-id="4"]').click();
    await page.locator('.seatgrid canvas').waitFor();
  }
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 500)));
  await page.evaluate(() => {
    const b = window.__bench;
    b.longtasks = [];
    b.frames = [];
    b.recording = true;
    b.from = performance.now();
    let last = performance.now();
    const frame = (now) => {
      if (!b.recording) return;
      b.frames.push(now - last);
      last = now;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  for (let e = 0; e < kEvents; ++e) {
    broadcast();
    await new Promise((resolve) => setTimeout(resolve, kEveryMs));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const run = await page.evaluate(() => {
    const b = window.__bench;
    b.recording = false;
    return { frames: b.frames.slice(1), longtasks: b.longtasks.filter((t) => t.start >= b.from) };
  });
  const sorted = [...run.frames].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const result = {
    label,
    view: openZone ? `zone A grid (${zones[3].seatCount} seats) open` : 'first view',
    seats: seatCount,
    changes: kEvents * kPerEvent,
    interactiveMs: Math.round(interactiveMs),
    longestLoadTaskMs: Math.round(loadLongest),
    frames: sorted.length,
    p50FrameMs: Number(pct(50).toFixed(1)),
    p95FrameMs: Number(pct(95).toFixed(1)),
    maxFrameMs: Number((sorted.at(-1) ?? NaN).toFixed(1)),
    longTasks: run.longtasks.length,
    longestTaskMs: Math.round(Math.max(0, ...run.longtasks.map((t) => t.duration))),
    consoleErrors: errors.length,
    idleP95FrameMs: Number(idleFrames[Math.floor(0.95 * idleFrames.length)].toFixed(1)),
  };
  console.log(JSON.stringify(result));
  if (shot) await page.screenshot({ path: shot, fullPage: true });
} finally {
  for (const res of streams) res.end();
  await browser.close();
  server.close();
}
