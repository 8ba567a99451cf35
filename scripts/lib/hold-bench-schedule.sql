-- The database of scripts/bench-ticket-limit and scripts/bench-idempotent-hold, on a freshly migrated scratch
-- database (scripts/lib/ceilings.sh, scratch_database): one schedule of 10,000 seats (4 zones of 25 rows x 100),
-- half of them held by other fans, and the bench's 1,000 fans (md5('fan' || 1..1000)) with 30 ended
-- reservations each on it (history). No ANALYZE here: each script adds its own rows first, then analyzes.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
INSERT INTO catalog.concerts (title, artist, venue) VALUES ('bench', 'A', 'V');
INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at, seat_count)
VALUES (1, now() + interval '30 days', now() - interval '1 day', now() + interval '29 days', 10000);
INSERT INTO catalog.zones (schedule_id, name, price, color, sort_order)
SELECT 1, 'Z' || z, 100000 - z * 10000, '#0000aa', z FROM generate_series(0, 3) z;
INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)
SELECT 1, z + 1, z * 2500 + r * 100 + n - 1, 'R' || (z * 25 + r), n, n, z * 25 + r + 1
  FROM generate_series(0, 3) z, generate_series(0, 24) r, generate_series(1, 100) n
 ORDER BY z, r, n;
-- Half the seats held by other fans (live), one reservation each.
WITH pick AS (SELECT id, zone_id FROM catalog.seats WHERE random() < 0.5),
     r AS (INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price,
                                             expires_at)
           SELECT gen_random_uuid(), 1, gen_random_uuid(), 1, 1, now() + interval '1 day' FROM pick
           RETURNING id),
     numbered AS (SELECT id, row_number() OVER () AS n FROM r),
     seats AS (SELECT id, zone_id, row_number() OVER () AS n FROM pick)
INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price)
SELECT numbered.id, seats.id, 1, seats.zone_id, 1 FROM numbered JOIN seats USING (n);
-- The bench's 1,000 fans, 30 ended reservations each on this schedule.
INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, state, seat_count, total_price,
                                  expires_at, created_at, ended_at)
SELECT md5('fan' || f)::uuid, 1, gen_random_uuid(), 'EXPIRED', 2, 1, now() - interval '1 day',
       now() - interval '2 days', now() - interval '1 day'
  FROM generate_series(1, 1000) f, generate_series(1, 30);
