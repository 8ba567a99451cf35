-- The seats of each zone kept with the layout (issue 15; docs/decisions/0057-sold-out-count-kept-with-the-layout.md).
--
-- catalog.zone_seat_counts (catalog/0005), the waiting room's door for its sold-out check (ADR 0018), counted
-- every catalog.seats row of the schedule on each call: 10,000 rows for a 10,000-seat venue, four times a second
-- during a sale, for a number that changes only when the layout does. Now each zone carries its seat count,
-- kept by statement triggers on catalog.seats in the same transaction as the seat rows themselves, whoever
-- writes them (the admin's layout insert, the demo SQL, a test, a person at psql): an INSERT adds its rows per
-- zone, a DELETE subtracts them, an UPDATE that moves seats between zones moves their count, and a TRUNCATE
-- zeroes every zone. Two writers of one zone's seats take turns on the zone's row (the UPDATE's row lock), so
-- the count stays exact. The door reads one row per zone.
ALTER TABLE catalog.zones ADD COLUMN seat_count int NOT NULL DEFAULT 0 CHECK (seat_count >= 0);

CREATE FUNCTION catalog.count_zone_seats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE catalog.zones SET seat_count = 0 WHERE seat_count <> 0;
    ELSIF TG_OP = 'INSERT' THEN
        UPDATE catalog.zones z SET seat_count = z.seat_count + d.n
          FROM (SELECT s.zone_id, count(*)::int AS n FROM added_seats s GROUP BY s.zone_id) d
         WHERE z.id = d.zone_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE catalog.zones z SET seat_count = z.seat_count - d.n
          FROM (SELECT s.zone_id, count(*)::int AS n FROM removed_seats s GROUP BY s.zone_id) d
         WHERE z.id = d.zone_id;
    ELSE
        UPDATE catalog.zones z SET seat_count = z.seat_count + d.n
          FROM (SELECT t.zone_id, sum(t.n)::int AS n
                  FROM (SELECT s.zone_id, 1 AS n FROM added_seats s
                        UNION ALL
                        SELECT s.zone_id, -1 FROM removed_seats s) t
                 GROUP BY t.zone_id) d
         WHERE z.id = d.zone_id AND d.n <> 0;
    END IF;
    RETURN NULL;
END
$$;

-- A trigger with transition tables has one event each.
CREATE TRIGGER seats_counted_on_insert AFTER INSERT ON catalog.seats
    REFERENCING NEW TABLE AS added_seats
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.count_zone_seats();
CREATE TRIGGER seats_counted_on_delete AFTER DELETE ON catalog.seats
    REFERENCING OLD TABLE AS removed_seats
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.count_zone_seats();
CREATE TRIGGER seats_counted_on_update AFTER UPDATE ON catalog.seats
    REFERENCING OLD TABLE AS removed_seats NEW TABLE AS added_seats
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.count_zone_seats();
CREATE TRIGGER seats_counted_on_truncate AFTER TRUNCATE ON catalog.seats
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.count_zone_seats();

-- The counts of the seats that exist already. The triggers above were created first: CREATE TRIGGER locks
-- catalog.seats against writes until this migration commits, so no seat is written between the count and the
-- triggers (an older pod during a rolling update waits).
UPDATE catalog.zones z SET seat_count = c.n
  FROM (SELECT s.zone_id, count(*)::int AS n FROM catalog.seats s GROUP BY s.zone_id) c
 WHERE z.id = c.zone_id;

-- catalog/0005's door, same signature and rows (a zone without seats: 0), one index probe per schedule.
CREATE OR REPLACE FUNCTION catalog.zone_seat_counts(p_schedule bigint)
RETURNS TABLE (zone_id bigint, name text, seats bigint)
LANGUAGE sql STABLE AS $$
    SELECT z.id, z.name, z.seat_count::bigint
      FROM catalog.zones z
     WHERE z.schedule_id = p_schedule
$$;
