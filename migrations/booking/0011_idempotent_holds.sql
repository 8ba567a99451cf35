-- Idempotent holds (issue 16, the chaos run with engine kills; docs/decisions/0032-idempotent-holds.md).
--
-- A hold that committed while its answer was lost (a PostgreSQL failover answers 503, outcome unknown) was
-- made again by the fan's retry: a second hold, or a 409 `ticket-limit-reached` caused by the first. A hold may
-- now carry an Idempotency-Key: the key and the SHA-256 of the request are stored on the reservation, and
-- booking.hold and booking.hold_best (booking/0008, everything they did kept) look the key up under the fan's
-- advisory lock (class 1706, per fan and schedule) before anything else. Holds without a key are unchanged:
-- p_key NULL takes no new step and writes NULL columns.
SET LOCAL check_function_bodies = off;

-- Nullable, no default: adding them rewrites nothing.
ALTER TABLE booking.reservations ADD COLUMN idempotency_key text, ADD COLUMN request_hash bytea;

-- One reservation per (fan, key). A key reused concurrently for another schedule takes another fan lock; this
-- index then refuses the second INSERT (unique_violation, answered 422 `idempotency-key-reused`).
CREATE UNIQUE INDEX reservations_user_idempotency_key ON booking.reservations (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The fan's reservation made with this key, as GET shows it now (a HELD one past expires_at reads EXPIRED, its
-- seats RELEASED), one row per seat in seat order, with the hash of the request that made it. No row: the key
-- is new. Read by the holds below and by the service before its fast refusals (src/services/booking/store.cpp).
CREATE FUNCTION booking.held_by_key(p_user uuid, p_key text)
RETURNS TABLE (reservation_id uuid, schedule_id bigint, request_hash bytea, expires_at timestamptz,
               created_at timestamptz, seat_id bigint, zone_id bigint, price bigint, state text, seat_state text)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.schedule_id, r.request_hash, r.expires_at, r.created_at, s.seat_id, s.zone_id, s.price,
           CASE WHEN r.state = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END,
           CASE WHEN s.state = 'HELD' AND r.expires_at <= now() THEN 'RELEASED' ELSE s.state END
      FROM booking.reservations r
      JOIN booking.reservation_seats s ON s.reservation_id = r.id
     WHERE r.user_id = p_user AND r.idempotency_key = p_key
     ORDER BY s.seat_id
$$;

-- booking/0008's hold with p_key (NULL: no Idempotency-Key) and p_hash, and two result columns more: `state`
-- (the reservation's) and `seat_state`, so that a replay answers the reservation as it is now. New outcomes:
--   REPLAYED    this fan's reservation made with p_key and the same request (p_hash); nothing written
--   KEY_REUSED  p_key was used by this fan for another request; nothing written
-- A HELD answer has state and seat_state HELD; the refusals have them NULL.
DROP FUNCTION booking.hold(uuid, bigint, uuid, bigint[], double precision, text);

CREATE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text, p_key text, p_hash bytea)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int,
               state text, seat_state text)
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
    v_limit   int;
    v_count   int;
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

    -- ADR 0032: with an Idempotency-Key, the fan's lock first, then the key. Two requests with one key (one body,
    -- so one schedule, so one lock) run one after the other, and the second finds what the first wrote. The
    -- same key and body answer that reservation as it is now (REPLAYED, whatever its state); another body,
    -- KEY_REUSED. Nothing is written either way.
    IF p_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1706, hashtext(p_user::text || '/' || p_schedule::text));
        RETURN QUERY SELECT CASE WHEN k.request_hash IS NOT DISTINCT FROM p_hash THEN 'REPLAYED' ELSE 'KEY_REUSED' END,
                            k.reservation_id, k.expires_at, k.created_at, k.seat_id, k.zone_id, k.price,
                            NULL::int, NULL::int, k.state, k.seat_state
                       FROM booking.held_by_key(p_user, p_key) k;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    SELECT array_agg(h.seat_id ORDER BY h.seat_id), array_agg(h.zone_id ORDER BY h.seat_id),
           array_agg(h.price ORDER BY h.seat_id), array_agg(h.seat_index ORDER BY h.seat_id),
           count(*), bool_or(NOT h.booking_open), sum(h.price)
      INTO v_seats, v_zones, v_prices, v_indexes, v_found, v_closed, v_total
      FROM catalog.seats_for_hold(p_schedule, p_seats) h;
    IF v_found <> cardinality(p_seats) THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int,
                            NULL::text, NULL::text;
        RETURN;
    END IF;
    IF v_closed THEN
        RETURN QUERY SELECT 'BOOKING_CLOSED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int,
                            NULL::text, NULL::text;
        RETURN;
    END IF;

    -- The ticket limit: the fan's lock is held until this transaction ends, so no other hold of theirs can
    -- count before this one is written (or refused).
    v_limit := catalog.ticket_limit(p_schedule);
    v_count := booking.fan_tickets_locked(p_user, p_schedule);
    IF v_count + cardinality(v_seats) > v_limit THEN
        RETURN QUERY SELECT 'LIMIT_REACHED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, v_limit, v_count, NULL::text, NULL::text;
        RETURN;
    END IF;

    -- From here on, booking/0006 unchanged: one probe of reservation_seats_one_live_per_seat per seat.
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
                            NULL::bigint, NULL::bigint, NULL::int, NULL::int, NULL::text, NULL::text
                       FROM unnest(v_taken) AS t(id);
        RETURN;
    END IF;

    INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price, expires_at,
                                      idempotency_key, request_hash)
    VALUES (p_user, p_schedule, p_queue_token, cardinality(p_seats), v_total,
            now() + make_interval(secs => p_ttl_seconds), p_key, p_hash)
    RETURNING id, reservations.expires_at, reservations.created_at INTO v_id, v_expires, v_created;

    INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price)
    SELECT v_id, t.seat_id, p_schedule, t.zone_id, t.price
      FROM unnest(v_seats, v_zones, v_prices) WITH ORDINALITY AS t(seat_id, zone_id, price, n)
     ORDER BY t.n;

    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.held', v_id,
            jsonb_build_object('reservationId', v_id, 'scheduleId', p_schedule, 'userId', p_user,
                               'seatIds', to_jsonb(v_seats), 'seatIndexes', to_jsonb(v_indexes)));

    RETURN QUERY SELECT 'HELD'::text, v_id, v_expires, v_created, t.seat_id, t.zone_id, t.price, v_limit,
                        v_count + cardinality(v_seats),
                        'HELD'::text, 'HELD'::text
                   FROM unnest(v_seats, v_zones, v_prices) WITH ORDINALITY AS t(seat_id, zone_id, price, n)
                  ORDER BY t.n;
END
$$;

-- booking/0008's best available with p_key and p_hash, the same new outcomes and columns as booking.hold.
DROP FUNCTION booking.hold_best(uuid, bigint, uuid, bigint, int, double precision, text);

CREATE FUNCTION booking.hold_best(p_user uuid, p_schedule bigint, p_queue_token uuid, p_zone bigint,
                                  p_count int, p_ttl_seconds double precision, p_traceparent text, p_key text, p_hash bytea)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int,
               state text, seat_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_open    boolean;
    v_limit   int;
    v_count   int;
    v_overdue bigint[] := '{}';   -- seats of overdue holds, counted as free (second pass only)
    v_pass    int;
    v_seats   bigint[];
    v_prices  bigint[];
    v_indexes int[];
    v_found   int;
    v_total   bigint;
    v_seat    bigint;
    v_hold    uuid;
    v_holds   uuid[];
    v_ended   uuid;
    v_id      uuid;
    v_expires timestamptz;
    v_created timestamptz;
BEGIN
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);

    -- ADR 0032: with an Idempotency-Key, the fan's lock first, then the key. Two requests with one key (one body,
    -- so one schedule, so one lock) run one after the other, and the second finds what the first wrote. The
    -- same key and body answer that reservation as it is now (REPLAYED, whatever its state); another body,
    -- KEY_REUSED. Nothing is written either way.
    IF p_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1706, hashtext(p_user::text || '/' || p_schedule::text));
        RETURN QUERY SELECT CASE WHEN k.request_hash IS NOT DISTINCT FROM p_hash THEN 'REPLAYED' ELSE 'KEY_REUSED' END,
                            k.reservation_id, k.expires_at, k.created_at, k.seat_id, k.zone_id, k.price,
                            NULL::int, NULL::int, k.state, k.seat_state
                       FROM booking.held_by_key(p_user, p_key) k;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    SELECT z.booking_open INTO v_open FROM catalog.zone_seats_for_hold(p_schedule, p_zone) z LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int,
                            NULL::text, NULL::text;
        RETURN;
    END IF;
    IF NOT v_open THEN
        RETURN QUERY SELECT 'BOOKING_CLOSED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int,
                            NULL::text, NULL::text;
        RETURN;
    END IF;

    v_limit := catalog.ticket_limit(p_schedule);
    v_count := booking.fan_tickets_locked(p_user, p_schedule);
    IF v_count + p_count > v_limit THEN
        RETURN QUERY SELECT 'LIMIT_REACHED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, v_limit, v_count, NULL::text, NULL::text;
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(1704, hashtext(p_schedule::text || '/' || p_zone::text));

    FOR v_pass IN 1..2 LOOP
        IF v_pass = 2 THEN
            -- Too few free seats: those of overdue holds count as free too.
            SELECT coalesce(array_agg(s.seat_id), '{}') INTO v_overdue
              FROM booking.reservation_seats s
              JOIN booking.reservations r ON r.id = s.reservation_id
             WHERE s.schedule_id = p_schedule AND s.zone_id = p_zone AND s.state = 'HELD'
               AND r.state = 'HELD' AND r.expires_at <= now();
            EXIT WHEN cardinality(v_overdue) = 0;
        END IF;
        -- A new statement, a new snapshot: it sees every claim of this zone that held the lock before us.
        WITH zone AS (
            SELECT z.seat_id, z.seat_index, z.row_y, z.row_label, z.price,
                   row_number() OVER (PARTITION BY z.row_y, z.row_label ORDER BY z.x, z.number) AS place,
                   count(*) OVER (PARTITION BY z.row_y, z.row_label) AS row_seats
              FROM catalog.zone_seats_for_hold(p_schedule, p_zone) z
        ), marks AS (
            SELECT zone.*, false AS live FROM zone
            UNION ALL
            SELECT s.seat_id, NULL, NULL, NULL, NULL, NULL, NULL, true
              FROM booking.reservation_seats s
             WHERE s.schedule_id = p_schedule AND s.zone_id = p_zone AND s.state IN ('HELD', 'SOLD')
               AND s.seat_id <> ALL (v_overdue)
        ), free AS MATERIALIZED (
            -- In (seat_id, live) order a seat's live row, if any, comes right after its zone row.
            SELECT m.seat_id, m.seat_index, m.row_y, m.row_label, m.price, m.place, m.row_seats
              FROM (SELECT marks.*, lead(marks.seat_id) OVER (ORDER BY marks.seat_id, marks.live) AS next
                      FROM marks) m
             WHERE NOT m.live AND m.next IS DISTINCT FROM m.seat_id
        ), runs AS (
            -- A run of p_count free seats side by side starts at `first` when the free seat p_count - 1 further
            -- along the row is exactly p_count - 1 places on.
            SELECT f.row_y, f.row_label, f.row_seats, f.place AS first,
                   lead(f.place, p_count - 1) OVER (PARTITION BY f.row_y, f.row_label ORDER BY f.place) AS last
              FROM free f
        ), best_run AS (
            SELECT r.row_y, r.row_label, r.first
              FROM runs r
             WHERE r.last = r.first + p_count - 1
             ORDER BY r.row_y, r.row_label, abs(r.first + r.last - (r.row_seats + 1)), r.first
             LIMIT 1
        ), pick AS (
            SELECT f.seat_id, f.seat_index, f.price
              FROM free f JOIN best_run b
                ON f.row_y = b.row_y AND f.row_label = b.row_label
               AND f.place BETWEEN b.first AND b.first + p_count - 1
            UNION ALL
            (SELECT f.seat_id, f.seat_index, f.price
               FROM free f
              WHERE NOT EXISTS (SELECT 1 FROM best_run)
              ORDER BY f.row_y, f.row_label, abs(2 * f.place - (f.row_seats + 1)), f.place
              LIMIT p_count)
        )
        SELECT array_agg(p.seat_id ORDER BY p.seat_id), array_agg(p.price ORDER BY p.seat_id),
               array_agg(p.seat_index ORDER BY p.seat_id), count(*), sum(p.price)
          INTO v_seats, v_prices, v_indexes, v_found, v_total
          FROM pick p;
        EXIT WHEN v_found >= p_count;
    END LOOP;
    IF v_found < p_count THEN
        RETURN QUERY SELECT 'NO_SEATS'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int,
                            NULL::text, NULL::text;
        RETURN;
    END IF;

    -- Overdue holds of the chosen seats (second pass only) end now, as in booking.hold: one probe per seat.
    IF cardinality(v_overdue) > 0 THEN
        FOREACH v_seat IN ARRAY v_seats LOOP
            SELECT s.reservation_id INTO v_hold
              FROM booking.reservation_seats s
             WHERE s.schedule_id = p_schedule AND s.seat_id = v_seat AND s.state = 'HELD';
            IF FOUND THEN
                v_holds := v_holds || v_hold;
            END IF;
        END LOOP;
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
    END IF;

    INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price, expires_at,
                                      idempotency_key, request_hash)
    VALUES (p_user, p_schedule, p_queue_token, p_count, v_total, now() + make_interval(secs => p_ttl_seconds),
            p_key, p_hash)
    RETURNING id, reservations.expires_at, reservations.created_at INTO v_id, v_expires, v_created;

    -- In seat order, as every hold writes: a seat hold of overlapping seats waits, never deadlocks.
    INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price)
    SELECT v_id, t.seat_id, p_schedule, p_zone, t.price
      FROM unnest(v_seats, v_prices) WITH ORDINALITY AS t(seat_id, price, n)
     ORDER BY t.n;

    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.held', v_id,
            jsonb_build_object('reservationId', v_id, 'scheduleId', p_schedule, 'userId', p_user,
                               'seatIds', to_jsonb(v_seats), 'seatIndexes', to_jsonb(v_indexes)));

    RETURN QUERY SELECT 'HELD'::text, v_id, v_expires, v_created, t.seat_id, p_zone, t.price, v_limit,
                        v_count + p_count,
                        'HELD'::text, 'HELD'::text
                   FROM unnest(v_seats, v_prices) WITH ORDINALITY AS t(seat_id, price, n)
                  ORDER BY t.n;
END
$$;

-- The calls of booking/0008's shape (six and seven arguments, no key; the operations scripts and benchmarks
-- use them) keep working: they are the holds above without an Idempotency-Key, with 0008's result columns.
CREATE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int)
LANGUAGE sql AS $$
    SELECT h.outcome, h.reservation_id, h.expires_at, h.created_at, h.seat_id, h.zone_id, h.price,
           h.ticket_limit, h.tickets_taken
      FROM booking.hold(p_user, p_schedule, p_queue_token, p_seats, p_ttl_seconds, p_traceparent, NULL::text,
                        NULL::bytea) h
$$;

CREATE FUNCTION booking.hold_best(p_user uuid, p_schedule bigint, p_queue_token uuid, p_zone bigint,
                                  p_count int, p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int)
LANGUAGE sql AS $$
    SELECT h.outcome, h.reservation_id, h.expires_at, h.created_at, h.seat_id, h.zone_id, h.price,
           h.ticket_limit, h.tickets_taken
      FROM booking.hold_best(p_user, p_schedule, p_queue_token, p_zone, p_count, p_ttl_seconds, p_traceparent,
                             NULL::text, NULL::bytea) h
$$;
