-- Each schedule states its cancellation rule (issue 17 item 5, 예매 취소/환불; docs/decisions/0028-cancellation-and-refund.md).
--
-- The rule is a list of tiers, nearest the show last: tier i charges cancel_fee_percents[i] % of the price
-- while the cancellation happens before starts_at - cancel_days_before[i] days; after the last tier's instant
-- (the deadline) a reservation can no longer be cancelled. The default is free until D-10, 10 % until D-3,
-- none after. A day is 86,400 s here (make_interval(secs => ...)), as in the service's JSON, so that the
-- instants the API shows are the instants this function decides by, in every time zone.
ALTER TABLE catalog.schedules
    ADD COLUMN cancel_days_before  int[] NOT NULL DEFAULT '{10,3}',
    ADD COLUMN cancel_fee_percents int[] NOT NULL DEFAULT '{0,10}';

-- A rule is 1..8 tiers, as many days as percents, days strictly decreasing in 0..365, percents in 0..100.
CREATE FUNCTION catalog.cancellation_rule_ok(p_days int[], p_percents int[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_ndims(p_days) = 1 AND array_ndims(p_percents) = 1
                    AND cardinality(p_days) BETWEEN 1 AND 8 AND cardinality(p_days) = cardinality(p_percents)
                    AND NOT (array_position(p_days, NULL) IS NOT NULL)
                    AND NOT (array_position(p_percents, NULL) IS NOT NULL)
                    AND (SELECT bool_and(d BETWEEN 0 AND 365) FROM unnest(p_days) d)
                    AND (SELECT bool_and(p BETWEEN 0 AND 100) FROM unnest(p_percents) p)
                    AND (SELECT bool_and(p_days[i] > p_days[i + 1])
                           FROM generate_subscripts(p_days, 1) i WHERE i < cardinality(p_days)) IS NOT FALSE,
                    false)
$$;

ALTER TABLE catalog.schedules
    ADD CONSTRAINT schedules_cancellation_rule CHECK (catalog.cancellation_rule_ok(cancel_days_before,
                                                                                   cancel_fee_percents));

-- Catalog's door for a cancellation (booking.cancel): the schedule's terms at instant p_at (the caller's
-- database clock). fee_percent is the tier p_at falls in (an instant on a tier's boundary belongs to the next
-- tier), NULL when p_at is at or past the deadline; no row for an unknown schedule.
CREATE FUNCTION catalog.cancellation_terms(p_schedule bigint, p_at timestamptz)
RETURNS TABLE (fee_percent int, deadline timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT t.percent
              FROM unnest(s.cancel_days_before, s.cancel_fee_percents) WITH ORDINALITY AS t(days, percent, n)
             WHERE p_at < s.starts_at - make_interval(secs => t.days * 86400.0)
             ORDER BY t.n LIMIT 1),
           s.starts_at - make_interval(secs => s.cancel_days_before[cardinality(s.cancel_days_before)] * 86400.0)
      FROM catalog.schedules s
     WHERE s.id = p_schedule
$$;
