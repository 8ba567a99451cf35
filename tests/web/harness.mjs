// What the browser tests and the screenshot script share: the local services' settings, a real `marquee`
// process serving web/, test data made through the admin API, and Debian's Chromium through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.MARQUEE_SOURCE_DIR ?? path.resolve(here, '../..');

/// A MARQUEE_* setting: the environment first, then .local/env (written by ./scripts/dev services).
export function setting(name) {
  if (process.env[name]) return process.env[name];
  const file = path.join(sourceDir, '.local/env');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const m = text.match(new RegExp(`^export ${name}='?([^'\\n]*)'?$`, 'm'));
  if (m) return m[1];
  throw new Error(`${name} is not set: start the local services with ./scripts/dev services`);
}

/// playwright-core from the folder tests/web/run installed it into (MARQUEE_WEB_DEPS), or from beside us.
export function playwright() {
  const deps = process.env.MARQUEE_WEB_DEPS ?? path.join(sourceDir, '.local/web-deps');
  return createRequire(path.join(deps, 'package.json'))('playwright-core');
}

export function uniqueName(prefix) {
  return `${prefix}_${randomUUID().slice(0, 12)}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/// Starts the real binary on a free port with the local services' settings and web/ as its web folder;
/// `overrides` add or replace MARQUEE_* variables (e.g. a short hold TTL). Resolves once /healthz answers.
export async function startMarquee(overrides = {}) {
  const binary = process.env.MARQUEE_BINARY ?? path.join(sourceDir, 'build/src/app/marquee');
  const port = await freePort();
  const env = {
    ...process.env,
    MARQUEE_DATABASE_URL: setting('MARQUEE_DATABASE_URL'),
    MARQUEE_REDIS_URL: setting('MARQUEE_REDIS_URL'),
    MARQUEE_NATS_URL: setting('MARQUEE_NATS_URL'),
    MARQUEE_JWT_PRIVATE_KEY_FILE: setting('MARQUEE_JWT_PRIVATE_KEY_FILE'),
    MARQUEE_JWT_KEY_ID: setting('MARQUEE_JWT_KEY_ID'),
    MARQUEE_JWT_PUBLIC_KEYS: setting('MARQUEE_JWT_PUBLIC_KEYS'),
    MARQUEE_PAYMENT_GATEWAY_URL: setting('MARQUEE_PAYMENT_GATEWAY_URL'),
    MARQUEE_HTTP_HOST: '127.0.0.1',
    MARQUEE_HTTP_PORT: String(port),
    MARQUEE_MIGRATIONS_DIR: path.join(sourceDir, 'migrations'),
    MARQUEE_OPENAPI_PATH: path.join(sourceDir, 'api/openapi.yaml'),
    MARQUEE_WEB_DIR: path.join(sourceDir, 'web'),
    MARQUEE_THREADS: '2',
    MARQUEE_LOG_LEVEL: 'warn',
    // Every test logs in from 127.0.0.1; parallel suites must not rate-limit each other.
    MARQUEE_LOGIN_ATTEMPTS_PER_IP: '1000000',
    ...overrides,
  };
  const child = spawn(binary, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`marquee exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`marquee did not answer /healthz within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/// A payment-gateway simulator of its own (src/pg_sim), for tests that dial in faults without disturbing the
/// shared one: { url, setFaults({ declineRate, down, ... }), stop() }.
export async function startPgSim() {
  const binary = process.env.MARQUEE_PG_SIM ?? path.join(sourceDir, 'build/src/pg_sim/pg-sim');
  const port = await freePort();
  const child = spawn(binary, [`--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pg-sim exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pg-sim did not answer /healthz within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    setFaults: (faults) => call(url, 'PUT', '/v1/admin/faults', { body: faults, expect: [200, 204] }),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/// One JSON API call; throws with the body unless the status is `expect` (a number or a list).
export async function call(url, method, target, { body, token, headers = {}, expect = [200, 201] } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url + target, init);
  const text = await response.text();
  const wanted = Array.isArray(expect) ? expect : [expect];
  if (!wanted.includes(response.status)) throw new Error(`${method} ${target}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export const kPassword = 'Tickets-2026';

/// A new fan account (not logged in): { email, password, name }.
export async function newFan(url, prefix = 'webfan') {
  const email = `${uniqueName(prefix)}@example.com`;
  const name = uniqueName('Fan').slice(0, 20);
  await call(url, 'POST', '/api/v1/auth/signup', { body: { email, password: kPassword, displayName: name } });
  return { email, password: kPassword, name };
}

export async function login(url, fan) {
  return (await call(url, 'POST', '/api/v1/auth/login', { body: { email: fan.email, password: fan.password } }))
    .accessToken;
}

function psql(sql) {
  const bin = fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
  const r = spawnSync(bin, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', setting('MARQUEE_DATABASE_URL'), '-c', sql], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

/// An admin's access token: a new account made admin the way operators do it (sign-up only makes fans).
export async function adminToken(url) {
  const admin = await newFan(url, 'webadmin');
  psql(`UPDATE auth.users SET role = 'admin' WHERE email = '${admin.email}'`);
  return login(url, admin);
}

const kZones = [
  { name: 'VIP', price: 154000, color: '#c0392b', rows: 2, seatsPerRow: 12 },
  { name: 'R', price: 121000, color: '#8e44ad', rows: 3, seatsPerRow: 12 },
  { name: 'S', price: 99000, color: '#2980b9', rows: 3, seatsPerRow: 12 },
];

/// A concert with one schedule and a three-zone seat map (or `zones`), made through the admin API; booking
/// opened a day ago, or opens at `opensAt` (a Date: the pre-queue, ADR 0026). Returns { concert, schedule,
/// seats } where seats are the seat map's seats in index order.
export async function makeSchedule(url, token, { title = uniqueName('Web test concert'), opensAt, zones = kZones } = {}) {
  const concert = await call(url, 'POST', '/api/v1/admin/concerts', {
    token,
    body: { title, artist: 'Marquee Band', venue: 'Test Hall', description: '웹 테스트 공연 / web test concert' },
  });
  const day = 24 * 3600 * 1000;
  const schedule = await call(url, 'POST', `/api/v1/admin/concerts/${concert.id}/schedules`, {
    token,
    body: {
      startsAt: new Date(Date.now() + 30 * day).toISOString(),
      bookingOpensAt: (opensAt ?? new Date(Date.now() - day)).toISOString(),
      bookingClosesAt: new Date(Date.now() + 29 * day).toISOString(),
    },
  });
  await call(url, 'POST', `/api/v1/admin/schedules/${schedule.id}/seat-map`, {
    token,
    body: { zones },
  });
  const map = await call(url, 'GET', `/api/v1/schedules/${schedule.id}/seat-map`);
  return { concert, schedule, seats: map.seats };
}

/// Headless Chromium (Debian's /usr/bin/chromium unless MARQUEE_CHROMIUM names another).
export async function launchBrowser() {
  const { chromium } = playwright();
  return chromium.launch({
    executablePath: process.env.MARQUEE_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // Root in a container has no user namespace for Chromium's sandbox.
    args: ['--no-sandbox'],
  });
}

/// A fresh browser context (own storage: one fan) in `locale`, on `url`.
export async function newPage(browser, url, locale = 'en-US') {
  const context = await browser.newContext({ locale, baseURL: url, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

/// Logs a fan in through the login form.
export async function loginThroughUi(page, fan) {
  await page.goto('/#/login');
  const form = page.locator('form[aria-labelledby=login-title]');
  await form.locator('input[name=email]').fill(fan.email);
  await form.locator('input[name=password]').fill(fan.password);
  await form.locator('button[type=submit]').click();
  await page.locator('#nav .who').getByText(fan.name).waitFor();
}
