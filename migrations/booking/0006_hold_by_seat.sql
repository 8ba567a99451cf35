-- A hold's cost no longer grows with the schedule's sales (issue 15; docs/decisions/0017-plans-that-stay-indexed.md).
--
-- pg_stat_statements showed booking.hold's TAKEN check and overdue-expiry UPDATE reading ~1,500 shared buffers
-- per call in a 3,000-seat sale (2,455 in a 10,000-seat one). PL/pgSQL caches each statement's plan per
-- connection and, after five calls, keeps a generic plan when it looks no dearer than the custom ones. The
-- generic plan of `s.schedule_id = $1 AND s.seat_id = ANY ($2)` estimates one row for "some schedule" (1 /
-- distinct schedules), so it used reservation_seats_one_live_per_seat with `schedule_id` alone as the index
-- condition and `seat_id = ANY` as a filter: every live seat of the hot schedule was read to find four.
--
-- Joining `unnest(p_seats)` to that index is not enough: for a schedule that statistics have not seen yet
-- (a new on-sale schedule is exactly that: autovacuum analyzes after 10 % of a table changed), custom plans too
-- estimate one row and pick the same scan with a join filter (auto_explain, issue 15). So each requested seat
-- (at most four) is one probe with an equality on both index columns: the only plan there is. The catalog's seats are read once (they were read three times), and the
-- reservation.held event is built from them instead of re-reading the rows just written.
-- Same steps, same order, same outcomes and the same READ COMMITTED semantics as booking/0005.
SET LOCAL check_function_bodies = off;

CREATE OR REPLACE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                                        p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_seats   bigint[];
    v_zones   bigint[];
    v_prices  bigint[];
    v_indexes int[];
    v_found   int;
    v_closed  boolean;
    v_total   bigint;
    v_seat    bigint;
    v_hold    uuid;
    v_overdue boolean;
    v_holds   uuid[];
    v_taken   bigint[];
    v_ended   uuid;
    v_id      uuid;
    v_expires timestamptz;
    v_created timestamptz;
BEGIN
    -- The outbox rows below (the column's default) carry the trace of the request (booking/0004).
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);

    SELECT array_agg(h.seat_id ORDER BY h.seat_id), array_agg(h.zone_id ORDER BY h.seat_id),
           array_agg(h.price ORDER BY h.seat_id), array_agg(h.seat_index ORDER BY h.seat_id),
           count(*), bool_or(NOT h.booking_open), sum(h.price)
      INTO v_seats, v_zones, v_prices, v_indexes, v_found, v_closed, v_total
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

    -- One probe of reservation_seats_one_live_per_seat per requested seat, equality on both of its columns:
    -- the seat's live row, if any (the index allows one), and whether its hold is overdue.
    FOREACH v_seat IN ARRAY v_seats LOOP
        SELECT s.reservation_id, r.state = 'HELD' AND r.expires_at <= now() INTO v_hold, v_overdue
          FROM booking.reservation_seats s
          JOIN booking.reservations r ON r.id = s.reservation_id
         WHERE s.schedule_id = p_schedule AND s.seat_id = v_seat AND s.state IN ('HELD', 'SOLD');
        IF NOT FOUND THEN
            CONTINUE;
        ELSIF v_overdue THEN
            v_holds := v_holds || v_hold;
        ELSE
            v_taken := v_taken || v_seat;
        END IF;
    END LOOP;

    -- Overdue holds of these seats end now (seats RELEASED, one reservation.expired event each), so an
    -- expired hold never blocks a new one. The row lock of the UPDATE orders this against a concurrent
    -- payment's confirm: whichever commits first wins, and the re-checked WHERE skips what it settled (a
    -- hold confirmed meanwhile then refuses our seat row through the unique index: 409, as in booking/0005).
    IF v_holds IS NOT NULL THEN
        FOR v_ended IN
            UPDATE booking.reservations r SET state = 'EXPIRED', ended_at = now()
             WHERE r.id = ANY (v_holds) AND r.state = 'HELD' AND r.expires_at <= now()
            RETURNING r.id
        LOOP
            INSERT INTO booking.outbox (event_type, aggregate_id, payload)
            VALUES ('reservation.expired', v_ended, booking.event_payload(v_ended, 'HELD'));
            UPDATE booking.reservation_seats s SET state = 'RELEASED'
             WHERE s.reservation_id = v_ended AND s.state = 'HELD';
        END LOOP;
    END IF;

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

    -- In seat order, as every hold writes: two holds of overlapping seats wait, never deadlock.
    INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price)
    SELECT v_id, t.seat_id, p_schedule, t.zone_id, t.price
      FROM unnest(v_seats, v_zones, v_prices) WITH ORDINALITY AS t(seat_id, zone_id, price, n)
     ORDER BY t.n;

    -- The payload booking.event_payload(v_id, 'HELD') would read back: seats and their indexes by seat id.
    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.held', v_id,
            jsonb_build_object('reservationId', v_id, 'scheduleId', p_schedule, 'userId', p_user,
                               'seatIds', to_jsonb(v_seats), 'seatIndexes', to_jsonb(v_indexes)));

    RETURN QUERY SELECT 'HELD'::text, v_id, v_expires, v_created, t.seat_id, t.zone_id, t.price
                   FROM unnest(v_seats, v_zones, v_prices) WITH ORDINALITY AS t(seat_id, zone_id, price, n)
                  ORDER BY t.n;
END
$$;

-- The same payload as booking/0003, in PL/pgSQL: a non-inlined SQL function is planned again on every call
-- (0.7 ms each under the sale's load, twice per purchase); PL/pgSQL keeps its plans for the connection. Every
-- lookup is by a key (the reservation id; the seat ids through catalog.seats_for_hold, catalog/0004), so a
-- cached plan cannot drift to a scan.
CREATE OR REPLACE FUNCTION booking.event_payload(p_reservation uuid, p_seat_state text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_schedule bigint;
    v_user     uuid;
    v_seats    bigint[];
    v_indexes  int[];
BEGIN
    SELECT r.schedule_id, r.user_id INTO v_schedule, v_user
      FROM booking.reservations r WHERE r.id = p_reservation;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(s.seat_id ORDER BY s.seat_id) INTO v_seats
      FROM booking.reservation_seats s
     WHERE s.reservation_id = p_reservation AND s.state = p_seat_state;
    SELECT array_agg(h.seat_index ORDER BY h.seat_id) INTO v_indexes
      FROM catalog.seats_for_hold(v_schedule, coalesce(v_seats, '{}')) h;
    RETURN jsonb_build_object('reservationId', p_reservation, 'scheduleId', v_schedule, 'userId', v_user,
                              'seatIds', coalesce(to_jsonb(v_seats), '[]'::jsonb),
                              'seatIndexes', coalesce(to_jsonb(v_indexes), '[]'::jsonb));
END
$$;
