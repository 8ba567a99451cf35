-- A seat hold in one statement (docs/performance.md, "What was changed"): the store's hold used to be a
-- transaction of eight round trips (BEGIN, read the seats, expire overdue holds, look for live ones, insert
-- the reservation, its seats and its event, COMMIT). Each trip waited for the service's event loop, and a
-- busy loop kept the connection leased, idle in transaction, between them: under a flash sale the pool's
-- eight connections spent most of their time waiting for the client, not working. The same steps, same
-- order and same READ COMMITTED semantics now run inside PostgreSQL in one call.
--
-- The unique index reservation_seats_one_live_per_seat still decides a race: when a concurrent hold of one
-- of these seats commits first, the INSERT of the seats raises unique_violation naming it, and the caller
-- answers 409 as before.
--
-- Returns one row per seat:
--   NOT_FOUND       a seat is not in this schedule (seat columns NULL)
--   BOOKING_CLOSED  the schedule is outside its booking window (seat columns NULL)
--   TAKEN           seat_id = a seat someone else holds (live) or bought; nothing written
--   HELD            the new reservation (id, expires_at, created_at) with each seat's zone and price
SET LOCAL check_function_bodies = off;

CREATE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_found   int;
    v_closed  boolean;
    v_total   bigint;
    v_taken   bigint[];
    v_ended   uuid;
    v_id      uuid;
    v_expires timestamptz;
    v_created timestamptz;
BEGIN
    -- The outbox rows below (the column's default) carry the trace of the request (booking/0004).
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);

    SELECT count(*), bool_or(NOT h.booking_open), sum(h.price) INTO v_found, v_closed, v_total
      FROM catalog.seats_for_hold(p_schedule, p_seats) h;
    IF v_found <> cardinality(p_seats) THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF v_closed THEN
        RETURN QUERY SELECT 'BOOKING_CLOSED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    -- Overdue holds of these seats end now (seats RELEASED, one reservation.expired event each), so an
    -- expired hold never blocks a new one. The row lock of the UPDATE orders this against a concurrent
    -- payment's confirm: whichever commits first wins, and the re-checked WHERE skips what it settled.
    FOR v_ended IN
        UPDATE booking.reservations r SET state = 'EXPIRED', ended_at = now()
         WHERE r.id IN (SELECT s.reservation_id FROM booking.reservation_seats s
                         WHERE s.schedule_id = p_schedule AND s.seat_id = ANY (p_seats) AND s.state = 'HELD')
           AND r.state = 'HELD' AND r.expires_at <= now()
        RETURNING r.id
    LOOP
        INSERT INTO booking.outbox (event_type, aggregate_id, payload)
        VALUES ('reservation.expired', v_ended, booking.event_payload(v_ended, 'HELD'));
        UPDATE booking.reservation_seats s SET state = 'RELEASED'
         WHERE s.reservation_id = v_ended AND s.state = 'HELD';
    END LOOP;

    SELECT array_agg(s.seat_id ORDER BY s.seat_id) INTO v_taken
      FROM booking.reservation_seats s
      JOIN booking.reservations r ON r.id = s.reservation_id
     WHERE s.schedule_id = p_schedule AND s.seat_id = ANY (p_seats) AND s.state IN ('HELD', 'SOLD')
       AND NOT (r.state = 'HELD' AND r.expires_at <= now());
    IF v_taken IS NOT NULL THEN
        RETURN QUERY SELECT 'TAKEN'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz, t.id,
                            NULL::bigint, NULL::bigint
                       FROM unnest(v_taken) AS t(id);
        RETURN;
    END IF;

    INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price, expires_at)
    VALUES (p_user, p_schedule, p_queue_token, cardinality(p_seats), v_total,
            now() + make_interval(secs => p_ttl_seconds))
    RETURNING id, reservations.expires_at, reservations.created_at INTO v_id, v_expires, v_created;

    INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price)
    SELECT v_id, h.seat_id, p_schedule, h.zone_id, h.price
      FROM catalog.seats_for_hold(p_schedule, p_seats) h
     ORDER BY h.seat_id;  -- one order for every hold: two holds of overlapping seats wait, never deadlock

    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.held', v_id, booking.event_payload(v_id, 'HELD'));

    RETURN QUERY SELECT 'HELD'::text, v_id, v_expires, v_created, h.seat_id, h.zone_id, h.price
                   FROM catalog.seats_for_hold(p_schedule, p_seats) h
                  ORDER BY h.seat_id;
END
$$;
