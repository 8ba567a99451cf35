-- Issue 17 items 6a and 4 (docs/decisions/0025-ticket-limit-and-best-available.md).
--
-- The per-fan ticket limit (1인 N매) of a schedule: how many seats one fan may hold and buy for it, live holds
-- and confirmed reservations together. Booking enforces it inside its hold statement and reads it through
-- catalog.ticket_limit.
ALTER TABLE catalog.schedules
    ADD COLUMN ticket_limit smallint NOT NULL DEFAULT 4 CHECK (ticket_limit BETWEEN 1 AND 100);

-- Catalog's door for booking's ticket limit: one primary-key probe; NULL for an unknown schedule.
CREATE FUNCTION catalog.ticket_limit(p_schedule bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT sc.ticket_limit::int FROM catalog.schedules sc WHERE sc.id = p_schedule
$$;

-- Catalog's door for best available: every seat of one zone of a schedule with what booking needs to choose
-- and hold it: its row (`row_y` orders the rows, the lowest is nearest the stage; `row_label` names them), its
-- place along the row (x, then number), its zone's price and whether booking is open now (the database clock
-- decides). One range scan of seats_schedule_zone_idx; no rows for a zone that is not the schedule's.
CREATE FUNCTION catalog.zone_seats_for_hold(p_schedule bigint, p_zone bigint)
RETURNS TABLE (seat_id bigint, seat_index int, row_y int, row_label text, x int, number int, price bigint,
               booking_open boolean)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.seat_index, s.y, s.row_label, s.x, s.number, z.price,
           now() >= sc.booking_opens_at AND now() < sc.booking_closes_at
      FROM catalog.seats s
      JOIN catalog.zones z ON z.id = s.zone_id
      JOIN catalog.schedules sc ON sc.id = s.schedule_id
     WHERE s.schedule_id = p_schedule AND s.zone_id = p_zone
$$;
