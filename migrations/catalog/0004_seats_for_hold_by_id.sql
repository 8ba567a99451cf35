-- The door booking uses, with the same answer as catalog/0002, looked up seat by seat (issue 15;
-- docs/decisions/0017-plans-that-stay-indexed.md). Callers inline it into PL/pgSQL statements whose plans are
-- cached per connection, and a schedule put on sale minutes ago has no statistics yet: plans of
-- `s.schedule_id = $1 AND s.id = ANY ($2)` may then probe an index on schedule_id and filter by id, reading
-- every seat of the schedule. Here each requested id is looked up alone behind an optimisation fence
-- (OFFSET 0), where the primary key is the only index that fits; the schedule is checked after.
-- DISTINCT keeps the old answer for a repeated id: one row.
CREATE OR REPLACE FUNCTION catalog.seats_for_hold(p_schedule_id bigint, p_seat_ids bigint[])
RETURNS TABLE (seat_id bigint, zone_id bigint, seat_index int, price bigint, booking_open boolean)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.zone_id, s.seat_index, z.price,
           now() >= sc.booking_opens_at AND now() < sc.booking_closes_at
      FROM (SELECT DISTINCT u.id FROM unnest(p_seat_ids) AS u(id)) AS want
      CROSS JOIN LATERAL (SELECT c.id, c.zone_id, c.seat_index, c.schedule_id
                            FROM catalog.seats c WHERE c.id = want.id OFFSET 0) AS s
      JOIN catalog.zones z ON z.id = s.zone_id
      JOIN catalog.schedules sc ON sc.id = s.schedule_id
     WHERE s.schedule_id = p_schedule_id
$$;
