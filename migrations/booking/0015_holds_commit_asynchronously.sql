-- Holds commit asynchronously (issue 15; docs/decisions/0052-holds-commit-asynchronously.md).
--
-- booking.hold and booking.hold_best with one more argument, p_synchronous: false turns synchronous_commit off
-- for the transaction of this one statement (set_config(..., true): a transaction-local setting, read when the
-- transaction commits and gone after it). The hold then answers once its commit record is in PostgreSQL's WAL
-- buffers, not after the WAL flush; the WAL writer flushes it within 3 x wal_writer_delay, and any later
-- synchronous commit (a payment, a top-up) flushes it before its own. true leaves the setting alone: the
-- commit is as durable as the server's synchronous_commit makes every other one (marquee
-- --durable-holds / MARQUEE_DURABLE_HOLDS). Nothing else in booking changes commit mode: confirm, cancel, the
-- sweeper and every payment and wallet statement stay synchronous.
--
-- These are wrappers of the holds of booking/0014 and booking/0011 (kept: the earlier signatures still serve a
-- binary of the previous release and the operations scripts), so the hold's logic has one body. The setting is
-- made by set_config, not by a SET clause on the function: a function's SET clause is undone when the
-- function returns, before the commit. plan_cache_mode (ADR 0034) is a SET clause of its own and leaves
-- synchronous_commit alone.
SET LOCAL check_function_bodies = off;

CREATE FUNCTION booking.hold(p_user uuid, p_schedule bigint, p_queue_token uuid, p_seats bigint[],
                             p_ttl_seconds double precision, p_traceparent text, p_key text, p_hash bytea,
                             p_synchronous boolean)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int,
               state text, seat_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF NOT p_synchronous THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN QUERY SELECT h.outcome, h.reservation_id, h.expires_at, h.created_at, h.seat_id, h.zone_id, h.price,
                        h.ticket_limit, h.tickets_taken, h.state, h.seat_state
                   FROM booking.hold(p_user, p_schedule, p_queue_token, p_seats, p_ttl_seconds, p_traceparent,
                                     p_key, p_hash) h;
END
$$;

CREATE FUNCTION booking.hold_best(p_user uuid, p_schedule bigint, p_queue_token uuid, p_zone bigint,
                                  p_count int, p_ttl_seconds double precision, p_traceparent text, p_key text,
                                  p_hash bytea, p_synchronous boolean)
RETURNS TABLE (outcome text, reservation_id uuid, expires_at timestamptz, created_at timestamptz,
               seat_id bigint, zone_id bigint, price bigint, ticket_limit int, tickets_taken int,
               state text, seat_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF NOT p_synchronous THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN QUERY SELECT h.outcome, h.reservation_id, h.expires_at, h.created_at, h.seat_id, h.zone_id, h.price,
                        h.ticket_limit, h.tickets_taken, h.state, h.seat_state
                   FROM booking.hold_best(p_user, p_schedule, p_queue_token, p_zone, p_count, p_ttl_seconds,
                                          p_traceparent, p_key, p_hash) h;
END
$$;
