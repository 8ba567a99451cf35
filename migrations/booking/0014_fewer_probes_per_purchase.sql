-- Fewer statements and probes per purchase in booking (issue 15; docs/decisions/0047-fewer-probes-per-purchase.md;
-- wallet/0007 does the same for the wallet).
--
-- 1. A hold inserted its reservation and then its seat rows, and the seat rows' composite foreign key
--    (reservation_id, schedule_id) -> reservations ran its check, a query of its own (SELECT ... FOR KEY SHARE)
--    on the row the same function had inserted one statement before. It is replaced by what it guaranteed,
--    split as in wallet/0007:
--    - the referenced side: a reservation is never deleted, and its id and schedule_id never change (triggers
--      refuse DELETE, TRUNCATE and such an UPDATE; no statement of Marquee does either). Its seat rows, and so
--      invariant 1's reservation_seats_one_live_per_seat (schedule_id, seat_id), keep the reservation's
--      schedule for good.
--    - the referencing side: a trigger runs the foreign key's check (same query, SQLSTATE 23503, same
--      constraint name) unless the row names the reservation and schedule this transaction has just inserted:
--      booking.hold records them (set_config in its INSERT's RETURNING) in the transaction-local setting
--      marquee.reservation_seen. Every other writer of seat rows (best available, a test) is checked.
-- 2. booking.confirm (a points payment's confirm inside payment.pay) ran six statements after its row lock:
--    the reservation's UPDATE, the seats' UPDATE, and the outbox INSERT whose payload booking.event_payload
--    built by reading again the reservation and the seats just updated (three statements, and a function
--    call with its own plan_cache_mode setting to save and restore). It now runs one: the two UPDATEs and the
--    INSERT as one statement, the payload built from the seats' UPDATE's RETURNING and the schedule and fan
--    its row lock read. Same rows, same event (seat ids and indexes in seat order), same outcomes.
-- 3. booking.hold read the schedule's ticket limit through catalog.ticket_limit, a SQL function PostgreSQL
--    cannot inline, parsed and planned again in every transaction; it now reads it through catalog/0010's
--    set-returning door, inlined into the statement that reads the requested seats (one statement less).
SET LOCAL check_function_bodies = off;

CREATE FUNCTION booking.refuse_reservation_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reservations are never deleted and never change id or schedule (%)', TG_OP
        USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
END
$$;
CREATE TRIGGER reservations_never_deleted BEFORE DELETE ON booking.reservations
    FOR EACH STATEMENT EXECUTE FUNCTION booking.refuse_reservation_change();
CREATE TRIGGER reservations_never_truncated BEFORE TRUNCATE ON booking.reservations
    FOR EACH STATEMENT EXECUTE FUNCTION booking.refuse_reservation_change();
CREATE TRIGGER reservations_never_rekeyed BEFORE UPDATE OF id, schedule_id ON booking.reservations
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.schedule_id IS DISTINCT FROM OLD.schedule_id)
    EXECUTE FUNCTION booking.refuse_reservation_change();

-- The foreign key's check, for a seat row that names a reservation this transaction has not just inserted.
CREATE FUNCTION booking.check_seat_reservation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM booking.reservations r
     WHERE r.id = NEW.reservation_id AND r.schedule_id = NEW.schedule_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "reservation_seats" violates foreign key constraint "%"',
                        TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[0], TABLE = TG_TABLE_NAME,
                  SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('Key (reservation_id, schedule_id)=(%s, %s) is not present in table '
                                  '"reservations".', NEW.reservation_id, NEW.schedule_id);
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE booking.reservation_seats DROP CONSTRAINT reservation_seats_reservation_id_schedule_id_fkey;
CREATE CONSTRAINT TRIGGER reservation_seats_reservation_id_schedule_id_fkey
    AFTER INSERT OR UPDATE OF reservation_id, schedule_id ON booking.reservation_seats
    FOR EACH ROW WHEN (NEW.reservation_id::text || '/' || NEW.schedule_id::text
                       IS DISTINCT FROM current_setting('marquee.reservation_seen', true))
    EXECUTE FUNCTION booking.check_seat_reservation('reservation_seats_reservation_id_schedule_id_fkey');

-- booking/0011's hold, unchanged but for two statements: the ticket limit is read with the requested seats
-- (catalog/0010's door, inlined; it was a PL/pgSQL expression calling a SQL function that could not be inlined,
-- parsed and planned again in every transaction: 3 above), and the INSERT records the reservation it makes (1).
CREATE OR REPLACE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text, p_key text, p_hash bytea)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int,
               state text, seat_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
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
    v_seen    text;
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
           count(*), bool_or(NOT h.booking_open), sum(h.price),
           (SELECT t.ticket_limit FROM catalog.ticket_limit_of(p_schedule) t)
      INTO v_seats, v_zones, v_prices, v_indexes, v_found, v_closed, v_total, v_limit
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
    RETURNING id, reservations.expires_at, reservations.created_at,
              set_config('marquee.reservation_seen', id::text || '/' || reservations.schedule_id::text, true)
         INTO v_id, v_expires, v_created, v_seen;

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

-- booking/0003's confirm, in fewer statements (2 above). An overdue hold is still expired as before.
CREATE OR REPLACE FUNCTION booking.confirm(p_reservation uuid, p_payment uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state    text;
    v_payment  uuid;
    v_live     boolean;
    v_schedule bigint;
    v_user     uuid;
BEGIN
    SELECT r.state, r.payment_id, r.expires_at > now(), r.schedule_id, r.user_id
      INTO v_state, v_payment, v_live, v_schedule, v_user
      FROM booking.reservations r WHERE r.id = p_reservation FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'NOT_FOUND';
    END IF;
    IF v_state = 'CONFIRMED' THEN
        RETURN CASE WHEN v_payment = p_payment THEN 'ALREADY_CONFIRMED' ELSE 'CANCELLED' END;
    END IF;
    IF v_state IN ('EXPIRED', 'CANCELLED') THEN
        RETURN v_state;
    END IF;
    IF NOT v_live THEN
        UPDATE booking.reservations SET state = 'EXPIRED', ended_at = now() WHERE id = p_reservation;
        INSERT INTO booking.outbox (event_type, aggregate_id, payload)
        VALUES ('reservation.expired', p_reservation, booking.event_payload(p_reservation, 'HELD'));
        UPDATE booking.reservation_seats SET state = 'RELEASED'
         WHERE reservation_id = p_reservation AND state = 'HELD';
        RETURN 'EXPIRED';
    END IF;
    -- The sub-statements of one statement do not see each other's changes, so the payload is built from what
    -- the seats' UPDATE returns (the seats now SOLD, as booking.event_payload(p_reservation, 'SOLD') would
    -- read them once the UPDATE is done) and their indexes from catalog's door, in seat order.
    WITH confirmed AS (
        UPDATE booking.reservations
           SET state = 'CONFIRMED', payment_id = p_payment, confirmed_at = now()
         WHERE id = p_reservation
        RETURNING id
    ), sold AS (
        UPDATE booking.reservation_seats SET state = 'SOLD'
         WHERE reservation_id = p_reservation AND state = 'HELD'
        RETURNING seat_id
    ), seats AS (
        SELECT array_agg(sold.seat_id ORDER BY sold.seat_id) AS ids FROM sold
    )
    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    SELECT 'reservation.confirmed', confirmed.id,
           jsonb_build_object('reservationId', confirmed.id, 'scheduleId', v_schedule, 'userId', v_user,
                              'seatIds', coalesce(to_jsonb(seats.ids), '[]'::jsonb),
                              'seatIndexes',
                              coalesce((SELECT to_jsonb(array_agg(h.seat_index ORDER BY h.seat_id))
                                          FROM catalog.seats_for_hold(v_schedule, coalesce(seats.ids, '{}')) h),
                                       '[]'::jsonb))
      FROM confirmed, seats;
    RETURN 'CONFIRMED';
END
$$;
