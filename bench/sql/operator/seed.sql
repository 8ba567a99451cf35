-- One schedule's sale as the figures see it: 100,000 tokens (80 % admitted, 5 % expired waiting) and 40,000
-- reservations (half confirmed, a quarter expired), in schedule 990000001.
INSERT INTO queue.queue_tokens (id, user_id, schedule_id, state, position, issued_at, admitted_at, ended_at)
SELECT gen_random_uuid(), gen_random_uuid(), 990000001,
       CASE WHEN g % 20 = 0 THEN 'EXPIRED' WHEN g % 5 = 0 THEN 'WAITING' ELSE 'USED' END, g,
       now() - interval '1 hour' + g * interval '30 ms',
       CASE WHEN g % 5 = 0 THEN NULL ELSE now() - interval '1 hour' + g * interval '30 ms' + (g % 600) * interval '1 s' END,
       CASE WHEN g % 20 = 0 OR g % 5 <> 0 THEN now() END
  FROM generate_series(1, 100000) g;
INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, state, seat_count, total_price, expires_at,
                                  payment_id, created_at, confirmed_at, ended_at)
SELECT gen_random_uuid(), 990000001, gen_random_uuid(),
       CASE WHEN g % 4 = 0 THEN 'EXPIRED' WHEN g % 2 = 0 THEN 'CONFIRMED' ELSE 'HELD' END, 1, 1000,
       now() + interval '5 minutes',
       CASE WHEN g % 4 <> 0 AND g % 2 = 0 THEN gen_random_uuid() END, now() - interval '10 minutes',
       CASE WHEN g % 4 <> 0 AND g % 2 = 0 THEN now() END,
       CASE WHEN g % 4 = 0 THEN now() END
  FROM generate_series(1, 40000) g;
ANALYZE queue.queue_tokens; ANALYZE booking.reservations;
