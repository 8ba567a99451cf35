// The Marquee API as the web app uses it: JSON over fetch with the access token, one refresh on 401, problems
// as ApiError, and Server-Sent Events read from a fetch body (EventSource cannot send Authorization).

const kSession = 'marquee.session';

export class ApiError extends Error {
  /// `problem` is the problem+json body (with `retryAfter` from the header) or null for a network failure.
  constructor(problem) {
    super(problem?.detail ?? 'network error');
    this.problem = problem;
    this.status = problem?.status ?? 0;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(kSession) ?? 'null');
  } catch {
    return null;
  }
}

export function saveSession(value) {
  if (value) sessionStorage.setItem(kSession, JSON.stringify(value));
  else sessionStorage.removeItem(kSession);
}

/// A fresh key per intended money movement (api/openapi.yaml IdempotencyKey).
export function idempotencyKey() {
  return crypto.randomUUID();
}

/// One Idempotency-Key per user action (ADR 0032, holds): the same request sent again after its outcome went
/// unknown (a 5xx or no answer) reuses its key, so the server answers what the first attempt did instead of
/// doing it twice; any other answer retires the key. `send(key)` makes the request.
const pendingKeys = new Map();
export async function withRetryKey(action, body, send) {
  const id = `${action} ${JSON.stringify(body)}`;
  const key = pendingKeys.get(id) ?? idempotencyKey();
  pendingKeys.set(id, key);
  try {
    const result = await send(key);
    pendingKeys.delete(id);
    return result;
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status > 0 && error.status < 500)) pendingKeys.delete(id);
    throw error;
  }
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const problem = body && typeof body === 'object' ? body : { status: response.status };
  problem.status ??= response.status;
  const retry = response.headers.get('Retry-After');
  if (retry !== null && /^\d+$/.test(retry)) problem.retryAfter = Number(retry);
  return new ApiError(problem);
}

async function refreshTokens() {
  const current = session();
  if (!current?.refreshToken) return false;
  const response = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refreshToken: current.refreshToken }),
  });
  if (!response.ok) {
    saveSession(null);
    return false;
  }
  const tokens = await response.json();
  saveSession({ ...current, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  return true;
}

function headersFor(extra, auth) {
  const headers = { Accept: 'application/json', ...extra };
  const token = session()?.accessToken;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/// One API call. Resolves to { status, body, headers }; throws ApiError for any status >= 400 or a network
/// failure. A 401 with a refresh token is retried once with new tokens.
export async function api(method, path, { body, headers = {}, auth = true, signal } = {}) {
  const send = () => {
    const init = { method, headers: headersFor(headers, auth), signal, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && auth && (await refreshTokens())) response = await send();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(null);
  }
  if (response.status >= 400) throw await problemOf(response);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/// Joins a schedule's waiting room (ADR 0026). A plain join first: it is all there is while the proof of work is
/// off, and a fan who already holds a live token gets it back without new work. On 403 `pow-required`, fetches
/// the challenge, solves it in a Web Worker and joins with the answer; a challenge that expired or went stale
/// while being solved (the operator raised the difficulty) is fetched and solved once more.
export async function joinQueue(scheduleId, { signal } = {}) {
  const path = `/api/v1/schedules/${scheduleId}/queue`;
  try {
    return await api('POST', path, { signal });
  } catch (error) {
    if (!/\/pow-required$/.test(error.problem?.type ?? '')) throw error;
  }
  for (let attempt = 0; ; attempt++) {
    const challenge = (await api('POST', `${path}/challenge`, { signal })).body;
    const { solveChallenge } = await import('./pow.js');
    const nonce = await solveChallenge(challenge);
    try {
      return await api('POST', path, { signal, body: { challenge: challenge.challenge, nonce } });
    } catch (error) {
      if (attempt > 0 || !/\/pow-(expired|invalid)$/.test(error.problem?.type ?? '')) throw error;
    }
  }
}

/// Parses one SSE event block (WHATWG HTML 9.2.6) into { event, data, id }, or null for a comment only.
export function parseEventBlock(block) {
  let event = 'message';
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  return { event, data: data.join('\n'), id };
}

/// Reads a text/event-stream with fetch until it ends or `signal` aborts, calling onEvent({event, data, id})
/// for each event. Throws ApiError when the stream cannot start (a problem before the first byte).
export async function readEvents(path, { headers = {}, auth = true, signal, onEvent }) {
  let response;
  try {
    const send = () =>
      fetch(path, { headers: { ...headersFor(headers, auth), Accept: 'text/event-stream' }, signal, cache: 'no-store' });
    response = await send();
    if (response.status === 401 && auth && (await refreshTokens())) response = await send();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(null);
  }
  if (!response.ok) throw await problemOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const parsed = parseEventBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed) onEvent(parsed);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/// The taken-seat bitset of GET /availability: bit i (most significant bit of byte 0 first) is seat index i.
export function takenIndexes(base64, seatCount) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const taken = new Set();
  for (let i = 0; i < seatCount; ++i) {
    if (bytes[i >> 3] & (0x80 >> (i & 7))) taken.add(i);
  }
  return taken;
}
