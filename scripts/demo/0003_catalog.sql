-- Demo catalog for `./scripts/dev up` (issue 4): two concerts, five schedules, zones with different prices,
-- and one 10,000-seat schedule (9103) for load tests. Safe to run again: fixed ids with ON CONFLICT DO NOTHING
-- (the identities are then moved past them), and seats only where a schedule has none.
-- Seats are generated here with generate_series (rows × seats per row per zone), so the file stays small;
-- seat_index is dense from 0 per schedule and each zone is one contiguous index range, as the admin
-- endpoint lays them out.

INSERT INTO catalog.concerts (id, title, artist, venue, description) OVERRIDING SYSTEM VALUE VALUES
    (9001, 'IU 2027 Concert: The Golden Hour', 'IU', 'Seoul Olympic Stadium',
     '아이유 단독 콘서트. The 10,000-seat schedule 9103 is the flash-sale load test.'),
    (9002, 'Seoul Jazz Night', 'Various Artists', 'Sejong Center', '재즈 페스티벌, three evenings.')
ON CONFLICT (id) DO NOTHING;

INSERT INTO catalog.schedules (id, concert_id, starts_at, booking_opens_at, booking_closes_at)
OVERRIDING SYSTEM VALUE VALUES
    (9101, 9001, '2027-09-18 19:00+09', '2026-01-01 20:00+09', '2027-09-18 17:00+09'),
    (9102, 9001, '2027-09-19 18:00+09', '2026-01-01 20:00+09', '2027-09-19 16:00+09'),
    (9103, 9001, '2027-09-20 18:00+09', '2026-01-01 20:00+09', '2027-09-20 16:00+09'),
    (9201, 9002, '2027-07-10 19:30+09', '2026-01-01 10:00+09', '2027-07-10 18:00+09'),
    (9202, 9002, '2027-07-11 19:30+09', '2026-01-01 10:00+09', '2027-07-11 18:00+09')
ON CONFLICT (id) DO NOTHING;

-- Identities continue above the demo ids, so concerts and schedules created later never collide with them.
SELECT setval(pg_get_serial_sequence('catalog.concerts', 'id'), (SELECT max(id) FROM catalog.concerts));
SELECT setval(pg_get_serial_sequence('catalog.schedules', 'id'), (SELECT max(id) FROM catalog.schedules));

BEGIN;
-- Zones per schedule: (schedule, name, price KRW, colour, order, rows, seats per row).
CREATE TEMPORARY TABLE demo_zones (schedule_id bigint, name text, price bigint, color text, sort_order smallint,
                                   rows int, per_row int) ON COMMIT DROP;
INSERT INTO demo_zones VALUES
    (9101, 'VIP', 198000, '#c0392b', 0, 4, 25), (9101, 'R', 165000, '#8e44ad', 1, 8, 25),
    (9101, 'S', 143000, '#2980b9', 2, 12, 25), (9101, 'A', 121000, '#27ae60', 3, 16, 25),
    (9102, 'VIP', 198000, '#c0392b', 0, 4, 25), (9102, 'R', 165000, '#8e44ad', 1, 8, 25),
    (9102, 'S', 143000, '#2980b9', 2, 12, 25),
    (9103, 'VIP', 198000, '#c0392b', 0, 10, 100), (9103, 'R', 165000, '#8e44ad', 1, 20, 100),
    (9103, 'S', 143000, '#2980b9', 2, 30, 100), (9103, 'A', 121000, '#27ae60', 3, 40, 100),
    (9201, 'R', 88000, '#8e44ad', 0, 5, 20), (9201, 'S', 66000, '#2980b9', 1, 10, 20),
    (9202, 'R', 88000, '#8e44ad', 0, 5, 20), (9202, 'S', 66000, '#2980b9', 1, 10, 20);

-- Only schedules that have no layout yet get one: a re-run adds nothing.
CREATE TEMPORARY TABLE demo_todo ON COMMIT DROP AS
    SELECT s.id FROM catalog.schedules s
     WHERE s.id IN (SELECT DISTINCT schedule_id FROM demo_zones)
       AND NOT EXISTS (SELECT 1 FROM catalog.zones z WHERE z.schedule_id = s.id);

INSERT INTO catalog.zones (schedule_id, name, price, color, sort_order)
SELECT schedule_id, name, price, color, sort_order FROM demo_zones WHERE schedule_id IN (SELECT id FROM demo_todo);

-- Rows run A, B, ... across the whole schedule (zones in order), seats 1..per_row in each row.
WITH zone_rows AS (
    SELECT d.schedule_id, z.id AS zone_id, d.per_row,
           sum(d.rows) OVER w - d.rows AS first_row,            -- rows of the earlier zones
           sum(d.rows * d.per_row) OVER w - d.rows * d.per_row AS first_index,
           d.rows
      FROM demo_zones d
      JOIN catalog.zones z ON z.schedule_id = d.schedule_id AND z.name = d.name
     WHERE d.schedule_id IN (SELECT id FROM demo_todo)
    WINDOW w AS (PARTITION BY d.schedule_id ORDER BY d.sort_order)
)
INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)
SELECT zr.schedule_id, zr.zone_id,
       (zr.first_index + r * zr.per_row + n - 1)::int,
       -- bijective base-26 row label of row (first_row + r): A..Z, AA..
       CASE WHEN zr.first_row + r < 26 THEN chr(65 + (zr.first_row + r)::int)
            ELSE chr(64 + ((zr.first_row + r) / 26)::int) || chr(65 + ((zr.first_row + r) % 26)::int) END,
       n, n, (zr.first_row + r + 1)::int
  FROM zone_rows zr,
       generate_series(0, zr.rows - 1) AS r,
       generate_series(1, zr.per_row) AS n;

UPDATE catalog.schedules s SET seat_count = (SELECT count(*) FROM catalog.seats WHERE schedule_id = s.id),
                               layout_version = layout_version + 1, updated_at = now()
 WHERE s.id IN (SELECT id FROM demo_todo);
COMMIT;
