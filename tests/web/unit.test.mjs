// Pure tests of the web app's modules (no browser, no server): the label table, the problem → message
// mapping, the SSE parser and the availability bitset. ctest label `unit`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseEventBlock, takenIndexes } from '../../web/api.js';
import { describe as describeProblem, slugOf } from '../../web/errors.js';
import { messages } from '../../web/i18n.js';

test('every label exists in Korean and English, with the same placeholders', () => {
  const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(messages.ko).sort(), Object.keys(messages.en).sort());
  for (const key of Object.keys(messages.en)) {
    assert.ok(messages.ko[key].length > 0, key);
    assert.deepEqual(placeholders(messages.ko[key]), placeholders(messages.en[key]), key);
  }
});

test('every problem the booking flow can meet has a message saying what to do, in both languages', () => {
  const slugs = [
    'seat-taken', 'booking-closed', 'hold-expired', 'queue-not-admitted', 'queue-token-expired',
    'queue-token-invalid', 'queue-token-required', 'queue-token-not-found', 'insufficient-points',
    'card-declined', 'dependency-unavailable', 'payment-in-progress', 'already-confirmed',
    'idempotency-key-reused', 'invalid-credentials', 'email-taken', 'rate-limited', 'unauthorized',
    'invalid-field', 'not-found', 'no-seats-available', 'ticket-limit-reached', 'sales-closed',
  ];
  for (const slug of slugs) {
    const { key } = describeProblem({ type: `https://marquee.dev/problems/${slug}`, status: 400 });
    assert.ok(messages.en[key] && messages.ko[key], `${slug} → ${key}`);
  }
});

test('a 503 naming the payment gateway is a PG failure with its Retry-After', () => {
  const d = describeProblem({ type: 'https://marquee.dev/problems/dependency-unavailable', status: 503, dependency: 'pg', retryAfter: 5 });
  assert.equal(d.key, 'err_pg_unavailable');
  assert.equal(d.params.retry, 5);
  assert.deepEqual(d.actions, ['retry']);
  assert.equal(describeProblem({ status: 503, type: 'https://marquee.dev/problems/dependency-unavailable', dependency: 'postgres' }).key,
    'err_dependency_unavailable');
});

test('the problems carry what the message needs: taken seats by name, queue position, network failure', () => {
  const taken = describeProblem({ type: 'https://marquee.dev/problems/seat-taken', status: 409, seats: [7, 8] },
    { seatName: (id) => `A-${id}` });
  assert.equal(taken.params.seats, 'A-7, A-8');
  const waiting = describeProblem({ type: 'https://marquee.dev/problems/queue-not-admitted', status: 403, position: 12, etaSeconds: 3 });
  assert.equal(waiting.params.position, 12);
  assert.deepEqual(waiting.actions, ['waitingRoom']);
  assert.equal(describeProblem(null).key, 'err_network');
  assert.equal(slugOf({ type: 'https://marquee.dev/problems/hold-expired' }), 'hold-expired');
  assert.equal(slugOf({}), '');
});

test('an SSE block becomes one event; comments and empty blocks none', () => {
  assert.deepEqual(parseEventBlock('event: position\ndata: {"a":1}\nid: 4'), { event: 'position', data: '{"a":1}', id: '4' });
  assert.deepEqual(parseEventBlock('data: one\ndata: two'), { event: 'message', data: 'one\ntwo', id: null });
  assert.equal(parseEventBlock(': keep-alive'), null);
});

test('the availability bitset is read most significant bit first', () => {
  // 0x80 0x01 → seat 0 and seat 15 taken.
  assert.deepEqual([...takenIndexes(Buffer.from([0x80, 0x01]).toString('base64'), 16)], [0, 15]);
  assert.deepEqual([...takenIndexes('AAA=', 16)], []);
});

test('the seat map redraws only the seats whose bit changed between two versions', async () => {
  const { changedIndexes, bitSet } = await import('../../web/availability.js');
  const before = Uint8Array.from([0x80, 0x00, 0x00]);
  const after = Uint8Array.from([0x00, 0x01, 0x40]);
  assert.deepEqual(changedIndexes(before, after, 20), [0, 15, 17]);
  assert.deepEqual(changedIndexes(null, after, 16), [15]); // bits past seatCount are ignored
  assert.equal(bitSet(after, 15), true);
  assert.equal(bitSet(after, 0), false);
  assert.equal(bitSet(null, 3), false);
});

test('the pre-queue countdown reads hours, minutes and seconds, and stops at 0:00', async () => {
  const { countdownText } = await import('../../web/moments.js');
  const now = Date.parse('2026-12-06T12:00:00Z');
  assert.equal(countdownText('2026-12-06T12:00:05Z', now), '0:05');
  assert.equal(countdownText('2026-12-06T13:02:03Z', now), '1:02:03');
  assert.equal(countdownText('2026-12-06T11:00:00Z', now), '0:00');
});

test('a hold retried after an unknown outcome reuses its Idempotency-Key; a definite answer retires it', async () => {
  const { withRetryKey, ApiError } = await import('../../web/api.js');
  const keys = [];
  const body = { scheduleId: 1, seatIds: [7] };
  const fail = (status) => async (key) => {
    keys.push(key);
    throw new ApiError(status === null ? null : { status });
  };
  await assert.rejects(withRetryKey('hold', body, fail(503)));
  await assert.rejects(withRetryKey('hold', body, fail(null))); // no answer at all
  assert.equal(await withRetryKey('hold', body, async (key) => keys.push(key) && 'held'), 'held');
  assert.equal(new Set(keys).size, 1);
  await withRetryKey('hold', body, async (key) => keys.push(key)); // a new action: a new key
  assert.equal(new Set(keys).size, 2);
  await assert.rejects(withRetryKey('hold', { scheduleId: 1, seatIds: [8] }, fail(409)));
  await withRetryKey('hold', { scheduleId: 1, seatIds: [8] }, async (key) => keys.push(key));
  assert.equal(new Set(keys).size, 4); // a 409 was an answer: the next click is a new action
});
