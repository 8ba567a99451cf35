-- booking.seat_states reads the schedule's live seats only, whatever booking's history (issue 15;
-- docs/decisions/0055-seat-states-by-live-seat.md).
--
-- booking/0003's body joined every live seat row to its reservation for the HELD rows' expires_at. The planner
-- hash-joined that: it read every reservation ever made (a sequential scan of booking.reservations) to build
-- the hash, so catalog's availability reconcile (ADR 0014) grew with history: 571 shared buffers with 20,000
-- reservations in the database, 18,387 with 1,000,000, for the same 10,000-seat schedule.
--
-- Here the expiry of a HELD row is a scalar subquery on booking.reservations' primary key. PostgreSQL never
-- turns a scalar subquery into a join: it runs as a SubPlan, one index probe per row that reaches it, and
-- only HELD rows reach it (a SOLD row is decided by the left arm of the OR). So the statement reads the
-- schedule's live rows through reservation_seats_one_live_per_seat (schedule_id, seat_id) WHERE state IN
-- ('HELD', 'SOLD') and one probe of reservations_pkey per HELD seat, and nothing that history adds.
--
-- What it returns is unchanged: SOLD rows, and HELD rows whose reservation's expires_at is still ahead of the
-- database clock (an expired hold the sweeper has not reached yet is left out, as before). A seat row always
-- has its reservation (the constraint trigger of booking/0014), so the inner join's "no reservation, no row"
-- case cannot arise; for a HELD row it would still give no row (NULL > now() is not true).
-- Same name, arguments and result: catalog's call (Store::live_seats) and an older binary are unchanged, and
-- the function stays a single SQL SELECT, which the planner inlines into the caller's statement.
CREATE OR REPLACE FUNCTION booking.seat_states(p_schedule bigint)
RETURNS TABLE (seat_id bigint, state text)
LANGUAGE sql STABLE AS $$
    SELECT s.seat_id, s.state
      FROM booking.reservation_seats s
     WHERE s.schedule_id = p_schedule AND s.state IN ('HELD', 'SOLD')
       AND (s.state = 'SOLD'
            OR (SELECT r.expires_at FROM booking.reservations r WHERE r.id = s.reservation_id) > now())
     ORDER BY s.seat_id
$$;
