-- Issue 17 items 6a (per-fan ticket limit, 1인 N매) and 4 (best available);
-- docs/decisions/0025-ticket-limit-and-best-available.md.
--
-- The limit counts the seats of the fan's live holds (HELD, not past expires_at) and of their CONFIRMED
-- reservations on the schedule; EXPIRED and CANCELLED reservations (and an overdue hold not yet swept) give
-- their places back. It is checked inside the hold's one statement (ADR 0011) under a transaction-scoped
-- advisory lock per (fan, schedule), held until the hold commits: two holds of one fan run one after the
-- other, and the second counts what the first wrote. Holds of different fans never wait on each other.
--
-- Advisory lock keys use the two-int4 form, which never meets the one-bigint keys of the outbox relay and the
-- migrator: class 1706 = (fan, schedule) of the ticket limit, class 1704 = (schedule, zone) of best available.
SET LOCAL check_function_bodies = off;

-- The count reads the fan's live reservations of one schedule by equality on both columns (ADR 0017): never
-- the fan's history, which reservations_user_idx (user_id, created_at) would walk.
CREATE INDEX reservations_fan_live_idx ON booking.reservations (user_id, schedule_id)
    WHERE state IN ('HELD', 'CONFIRMED');

-- Locks the fan's ticket count on the schedule for the rest of the transaction and returns it.
CREATE FUNCTION booking.fan_tickets_locked(p_user uuid, p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1706, hashtext(p_user::text || '/' || p_schedule::text));
    -- A new statement, so a new snapshot (READ COMMITTED): it sees every hold that held the lock before us.
    RETURN coalesce((SELECT sum(r.seat_count)
                       FROM booking.reservations r
                      WHERE r.user_id = p_user AND r.schedule_id = p_schedule
                        AND r.state IN ('HELD', 'CONFIRMED')
                        AND (r.state = 'CONFIRMED' OR r.expires_at > now())), 0)::int;
END
$$;

-- booking/0006's hold with the ticket limit; two result columns more, so it is dropped and created again.
-- New outcome:
--   LIMIT_REACHED   ticket_limit = the schedule's limit, tickets_taken = the fan's seats already counted;
--                   nothing written
DROP FUNCTION booking.hold(uuid, bigint, uuid, bigint[], double precision, text);

CREATE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int)
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

    SELECT array_agg(h.seat_id ORDER BY h.seat_id), array_agg(h.zone_id ORDER BY h.seat_id),
           array_agg(h.price ORDER BY h.seat_id), array_agg(h.seat_index ORDER BY h.seat_id),
           count(*), bool_or(NOT h.booking_open), sum(h.price)
      INTO v_seats, v_zones, v_prices, v_indexes, v_found, v_closed, v_total
      FROM catalog.seats_for_hold(p_schedule, p_seats) h;
    IF v_found <> cardinality(p_seats) THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int;
        RETURN;
    END IF;
    IF v_closed THEN
        RETURN QUERY SELECT 'BOOKING_CLOSED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int;
        RETURN;
    END IF;

    -- The ticket limit: the fan's lock is held until this transaction ends, so no other hold of theirs can
    -- count before this one is written (or refused).
    v_limit := catalog.ticket_limit(p_schedule);
    v_count := booking.fan_tickets_locked(p_user, p_schedule);
    IF v_count + cardinality(v_seats) > v_limit THEN
        RETURN QUERY SELECT 'LIMIT_REACHED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, v_limit, v_count;
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
                            NULL::bigint, NULL::bigint, NULL::int, NULL::int
                       FROM unnest(v_taken) AS t(id);
        RETURN;
    END IF;

    INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price, expires_at)
    VALUES (p_user, p_schedule, p_queue_token, cardinality(p_seats), v_total,
            now() + make_interval(secs => p_ttl_seconds))
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
                        v_count + cardinality(v_seats)
                   FROM unnest(v_seats, v_zones, v_prices) WITH ORDINALITY AS t(seat_id, zone_id, price, n)
                  ORDER BY t.n;
END
$$;

-- Best available reads the live rows of one zone in one range scan (equality on both leading columns): the
-- zone's seats minus these is its free seats, without a probe per seat.
CREATE INDEX reservation_seats_live_by_zone ON booking.reservation_seats (schedule_id, zone_id, seat_id)
    WHERE state IN ('HELD', 'SOLD');

-- Best available: the server picks `p_count` free seats of zone `p_zone` and holds them, all or nothing, in one
-- statement, with the same ticket limit, the same rows and the same reservation.held event as booking.hold.
--
-- Choice: the zone's seats (catalog.zone_seats_for_hold) minus its live rows (one range scan of
-- reservation_seats_live_by_zone), matched by sorting both on seat_id (a window, never a join that could become
-- a nested loop). Preferred are p_count seats side by side in one row (consecutive places along x, counted
-- over all the row's seats), the row nearest the stage first (lowest row_y), then the run whose middle is nearest
-- the middle of the row, then the leftmost. When no row has such a run, the p_count best single seats (nearest
-- row, then most central) are taken, so a fan is refused only when fewer than p_count seats are free.
-- A hold past its expires_at that the sweeper has not ended yet still has a live row: the first pass counts its
-- seats as taken; only when that pass finds too few seats does a second pass count them as free, and the
-- overdue holds of the chosen seats are expired here, as booking.hold does.
--
-- Concurrency: claims in one zone are serialized by a transaction-scoped advisory lock on (schedule, zone),
-- taken after the fan's lock and held until commit; each claim then reads the zone with a new snapshot that
-- sees every claim before it, so claims never pick the same seat and never wait for one another's seats.
-- A seat hold of a chosen seat (booking.hold, which takes no zone lock) can still commit first: the INSERT of
-- the seats then raises unique_violation on reservation_seats_one_live_per_seat, the database refusing the
-- double sale by itself, and the caller asks again (a new statement sees that hold).
--
-- Outcomes as booking.hold's, plus NO_SEATS (fewer than p_count free seats in the zone; nothing written).
-- NOT_FOUND: the zone has no seats in this schedule.
CREATE FUNCTION booking.hold_best(p_user uuid, p_schedule bigint, p_queue_token uuid, p_zone bigint,
                                  p_count int, p_ttl_seconds double precision, p_traceparent text)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int)
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

    SELECT z.booking_open INTO v_open FROM catalog.zone_seats_for_hold(p_schedule, p_zone) z LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int;
        RETURN;
    END IF;
    IF NOT v_open THEN
        RETURN QUERY SELECT 'BOOKING_CLOSED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int;
        RETURN;
    END IF;

    v_limit := catalog.ticket_limit(p_schedule);
    v_count := booking.fan_tickets_locked(p_user, p_schedule);
    IF v_count + p_count > v_limit THEN
        RETURN QUERY SELECT 'LIMIT_REACHED'::text, NULL::uuid, NULL::timestamptz, NULL::timestamptz,
                            NULL::bigint, NULL::bigint, NULL::bigint, v_limit, v_count;
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
                            NULL::bigint, NULL::bigint, NULL::bigint, NULL::int, NULL::int;
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

    INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, total_price, expires_at)
    VALUES (p_user, p_schedule, p_queue_token, p_count, v_total, now() + make_interval(secs => p_ttl_seconds))
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
                        v_count + p_count
                   FROM unnest(v_seats, v_prices) WITH ORDINALITY AS t(seat_id, price, n)
                  ORDER BY t.n;
END
$$;
