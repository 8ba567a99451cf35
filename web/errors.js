// One place that turns an API problem (RFC 9457, api/openapi.yaml) into what the fan reads: what happened
// and what to do, as an i18n key with its parameters and the actions to offer. Views never branch on
// `title` or `detail`, only on the problem `type` (its slug) and `status`.

/// The slug of a problem type: https://marquee.dev/problems/seat-taken → seat-taken.
export function slugOf(problem) {
  const type = problem?.type ?? '';
  const i = type.lastIndexOf('/problems/');
  return i >= 0 ? type.slice(i + '/problems/'.length) : '';
}

const kActions = {
  'seat-taken': [],
  'hold-expired': ['pickAgain'],
  'queue-not-admitted': ['waitingRoom'],
  'queue-token-expired': ['rejoin'],
  'queue-token-invalid': ['rejoin'],
  'queue-token-required': ['rejoin'],
  'queue-token-not-found': ['rejoin'],
  'insufficient-points': ['wallet'],
  'card-declined': ['retry'],
  'pg-unavailable': ['retry'],
  'dependency-unavailable': ['retry'],
  'payment-in-progress': ['reservations'],
  'already-confirmed': ['reservations'],
  'unauthorized': ['login'],
  'invalid-refresh-token': ['login'],
  'email-taken': ['login'],
  'ticket-limit-reached': ['reservations'],
  'sales-closed': [],
};

/// { key, params, actions, slug, status } for a problem object (or a network failure when `problem` is null).
export function describe(problem, { seatName = (id) => String(id) } = {}) {
  if (!problem) return { key: 'err_network', params: {}, actions: ['retry'], slug: 'network', status: 0 };
  let slug = slugOf(problem);
  const status = problem.status ?? 0;
  // A 503 naming the payment gateway is a PG failure, whatever the route.
  if (status === 503 && ['pg', 'payment-gateway'].includes(problem.dependency)) slug = 'pg-unavailable';
  if (slug === 'invalid-refresh-token') slug = 'unauthorized';
  const params = {
    status,
    retry: problem.retryAfter ?? 1,
    position: problem.position ?? '?',
    eta: problem.etaSeconds ?? '?',
    seats: Array.isArray(problem.seats) ? problem.seats.map(seatName).join(', ') : '',
    field: problem.field ?? problem['invalid-params']?.[0]?.name ?? '',
    detail: problem.detail ?? '',
    limit: problem.limit ?? '?',
  };
  const key = `err_${slug.replaceAll('-', '_')}`;
  return { key, params, actions: kActions[slug] ?? [], slug: slug || 'unknown', status };
}
