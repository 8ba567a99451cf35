// The validator's own test (tests/spec/run self-test, and the e2e fixture's set-up): exchanges it must accept
// and exchanges it must refuse, each for the reason named. Fails when the checker lets a drift through.
const problem = (status, slug, instance) =>
  JSON.stringify({ type: `https://marquee.dev/problems/${slug}`, title: 'T', status, detail: 'd', instance });
const rid = { 'x-request-id': '4bf92f3577b34da6a3ce929d0e0e4736', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
const json = { ...rid, 'content-type': 'application/json' };
const pjson = { ...rid, 'content-type': 'application/problem+json' };

const accept = [
  ['health', { method: 'GET', target: '/healthz', status: 200, headers: json, body: '{"status":"ok"}' }],
  ['unknown path, 404', { method: 'GET', target: '/nope', status: 404, headers: pjson, body: problem(404, 'not-found', '/nope') }],
  ['templated path and query', { method: 'GET', target: '/api/v1/concerts/12?x=1', status: 404, headers: pjson, body: problem(404, 'not-found', '/api/v1/concerts/12') }],
  ['undeclared method, 405 with Allow', { method: 'DELETE', target: '/healthz', status: 405, headers: { ...pjson, allow: 'GET' }, body: problem(405, 'method-not-allowed', '/healthz') }],
  ['metrics with the declared parameters', { method: 'GET', target: '/metrics', status: 200, headers: { ...rid, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, bodyLength: 9 }],
  ['problem extension members', { method: 'GET', target: '/nope', status: 404, headers: pjson, body: JSON.stringify({ ...JSON.parse(problem(404, 'not-found', '/nope')), extra: [1] }) }],
  ['event stream', { method: 'GET', target: '/api/v1/queue/me/events?scheduleId=1', status: 200, headers: { ...rid, 'content-type': 'text/event-stream' }, bodyLength: 100 }],
];
const refuse = [
  ['undeclared status', { method: 'GET', target: '/healthz', status: 418, headers: json, body: '{}' }, /not declared/],
  ['body off schema', { method: 'GET', target: '/healthz', status: 200, headers: json, body: '{"status":7}' }, /body/],
  ['body not JSON', { method: 'GET', target: '/healthz', status: 200, headers: json, body: 'ok' }, /not JSON/],
  ['undeclared content type', { method: 'GET', target: '/healthz', status: 200, headers: { ...rid, 'content-type': 'text/plain' }, bodyLength: 2 }, /content type/],
  ['metrics in another format version', { method: 'GET', target: '/metrics', status: 200, headers: { ...rid, 'content-type': 'text/plain; version=1.0.0; charset=utf-8' }, bodyLength: 9 }, /content type/],
  ['unknown path answered 200', { method: 'GET', target: '/nope', status: 200, headers: json, body: '{}' }, /no path/],
  ['undeclared method answered 200', { method: 'PATCH', target: '/healthz', status: 200, headers: json, body: '{}' }, /declares no PATCH/],
  ['405 whose Allow differs', { method: 'DELETE', target: '/healthz', status: 405, headers: { ...pjson, allow: 'GET, POST' }, body: problem(405, 'method-not-allowed', '/healthz') }, /Allow/],
  ['required X-Request-Id missing', { method: 'GET', target: '/healthz', status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' }, /X-Request-Id is missing/],
  ['traceparent missing on an unknown path', { method: 'GET', target: '/nope', status: 404, headers: { 'x-request-id': 'a', 'content-type': 'application/problem+json' }, body: problem(404, 'not-found', '/nope') }, /traceparent is missing/],
  ['traceparent malformed', { method: 'GET', target: '/healthz', status: 200, headers: { ...json, traceparent: '01-zz' }, body: '{"status":"ok"}' }, /header traceparent/],
  ['Retry-After not an integer', { method: 'GET', target: '/readyz', status: 503, headers: { ...pjson, 'retry-after': 'soon' }, body: '{}' }, /Retry-After/],
  ['a member the schema does not name', { method: 'GET', target: '/healthz', status: 200, headers: json, body: '{"status":"ok","uptime":3}' }, /\/uptime is a member the schema does not describe/],
  ['problem without its members', { method: 'GET', target: '/nope', status: 404, headers: pjson, body: '{"title":"x"}' }, /body/],
];

export function selfTest(checker) {
  let ok = true;
  for (const [name, x] of accept) {
    const { problems } = checker.check(x);
    if (problems.length) {
      ok = false;
      console.error(`self-test: "${name}" should pass, got: ${problems.join('; ')}`);
    }
  }
  for (const [name, x, reason] of refuse) {
    const { problems } = checker.check(x);
    if (!problems.some((p) => reason.test(p))) {
      ok = false;
      console.error(`self-test: "${name}" should fail with ${reason}, got: ${problems.join('; ') || 'no mismatch'}`);
    }
  }
  console.log(`spec check self-test: ${accept.length + refuse.length} cases, ${ok ? 'all as expected' : 'FAILED'}`);
  return ok;
}
