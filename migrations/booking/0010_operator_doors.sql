-- Booking's doors for the operator controls and the sale figures (issue 17;
-- docs/decisions/0027-operator-controls-and-sale-analytics.md).

-- The sale figures read a schedule's reservations; without this index each read would scan the table.
CREATE INDEX reservations_schedule_idx ON booking.reservations (schedule_id);

-- Payments degraded: the live holds of a schedule get `p_seconds` more, in one UPDATE. A hold already past its
-- expiry is not revived (the sweeper and the 410 `hold-expired` answer own it). Returns the holds extended.
CREATE FUNCTION booking.extend_holds(p_schedule bigint, p_seconds integer) RETURNS bigint
LANGUAGE sql AS $$
    WITH extended AS (
        UPDATE booking.reservations
           SET expires_at = expires_at + make_interval(secs => p_seconds)
         WHERE schedule_id = p_schedule AND state = 'HELD' AND expires_at > now() AND p_seconds > 0
        RETURNING 1)
    SELECT count(*) FROM extended
$$;

-- Conversion and abandonment of a schedule's sale: fans with a hold, fans who paid, holds that expired unpaid.
CREATE FUNCTION booking.sale_counts(p_schedule bigint)
RETURNS TABLE (fans_held bigint, fans_paid bigint, holds_expired bigint)
LANGUAGE sql STABLE AS $$
    SELECT count(DISTINCT r.user_id),
           count(DISTINCT r.user_id) FILTER (WHERE r.state = 'CONFIRMED'),
           count(*) FILTER (WHERE r.state = 'EXPIRED')
      FROM booking.reservations r
     WHERE r.schedule_id = p_schedule
$$;
