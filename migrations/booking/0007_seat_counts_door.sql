-- Booking's door for the waiting room's sold-out signal (ADR 0018): per zone of a schedule, the SOLD seats and
-- the live (HELD or SOLD) ones. One range scan of reservation_seats_one_live_per_seat (schedule_id, seat_id),
-- whose predicate covers both states. A HELD row past its expiry still counts as live until it is swept; only
-- `sold` decides sold out.
CREATE FUNCTION booking.seat_counts_by_zone(p_schedule bigint)
RETURNS TABLE (zone_id bigint, sold bigint, live bigint)
LANGUAGE sql STABLE AS $$
    SELECT s.zone_id, count(*) FILTER (WHERE s.state = 'SOLD'), count(*)
      FROM booking.reservation_seats s
     WHERE s.schedule_id = p_schedule AND s.state IN ('HELD', 'SOLD')
     GROUP BY s.zone_id
$$;
