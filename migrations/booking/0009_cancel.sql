-- A CONFIRMED reservation cancelled by its fan (issue 17 item 5, 예매 취소/환불;
-- docs/decisions/0028-cancellation-and-refund.md). The state CANCELLED exists since booking/0002 (a hold
-- released by DELETE); a cancelled purchase keeps its payment_id and confirmed_at, so the check that tied
-- CONFIRMED to those two columns is widened: CONFIRMED has both, HELD and EXPIRED neither, CANCELLED both
-- (a cancelled purchase) or neither (a released hold).
SET LOCAL check_function_bodies = off;  -- the bodies name catalog's door, migrated separately

DO $$
DECLARE
    v_name text;
BEGIN
    FOR v_name IN
        SELECT c.conname FROM pg_constraint c
         WHERE c.conrelid = 'booking.reservations'::regclass AND c.contype = 'c'
           AND pg_get_constraintdef(c.oid) LIKE '%confirmed_at IS NOT NULL%'
    LOOP
        EXECUTE format('ALTER TABLE booking.reservations DROP CONSTRAINT %I', v_name);
    END LOOP;
END
$$;

ALTER TABLE booking.reservations ADD CONSTRAINT reservations_confirmed_columns CHECK (
    CASE state
        WHEN 'CONFIRMED' THEN confirmed_at IS NOT NULL AND payment_id IS NOT NULL
        WHEN 'CANCELLED' THEN (confirmed_at IS NULL) = (payment_id IS NULL)
        ELSE confirmed_at IS NULL AND payment_id IS NULL
    END);

-- Booking's door for payment.cancel (migrations/payment/0005_cancel.sql), in the caller's transaction: the
-- caller's CONFIRMED reservation → CANCELLED at instant p_at (the caller's database clock), its seats
-- RELEASED and reservation.cancelled in the outbox (catalog's availability consumer frees the seats, as for
-- an expiry). The row lock decides a cancel racing another cancel, a payment or a sweep: whichever commits
-- first wins, and the others see the final state. The fee tier comes from catalog.cancellation_terms.
--   outcome          meaning
--   CANCELLED        done now: payment_id, total_price and fee_percent are the refund's inputs
--   WAS_CANCELLED    cancelled before (by a concurrent or earlier cancel, or a released hold)
--   NOT_CANCELLABLE  not CONFIRMED (state: HELD, EXPIRED)
--   CLOSED           past the schedule's cancellation deadline (deadline set)
--   NOT_FOUND        no such reservation, or another user's
CREATE FUNCTION booking.cancel(p_reservation uuid, p_user uuid, p_at timestamptz)
RETURNS TABLE (outcome text, state text, payment_id uuid, total_price bigint, fee_percent int,
               deadline timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r         booking.reservations%ROWTYPE;
    v_state   text;
    v_percent int;
    v_closes  timestamptz;
BEGIN
    SELECT * INTO r FROM booking.reservations t WHERE t.id = p_reservation AND t.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::text, NULL::uuid, NULL::bigint, NULL::int,
                            NULL::timestamptz;
        RETURN;
    END IF;
    v_state := CASE WHEN r.state = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END;
    IF v_state = 'CANCELLED' THEN
        RETURN QUERY SELECT 'WAS_CANCELLED'::text, v_state, r.payment_id, r.total_price, NULL::int,
                            NULL::timestamptz;
        RETURN;
    END IF;
    IF v_state <> 'CONFIRMED' THEN
        RETURN QUERY SELECT 'NOT_CANCELLABLE'::text, v_state, r.payment_id, r.total_price, NULL::int,
                            NULL::timestamptz;
        RETURN;
    END IF;
    SELECT t.fee_percent, t.deadline INTO v_percent, v_closes
      FROM catalog.cancellation_terms(r.schedule_id, p_at) t;
    IF v_percent IS NULL THEN
        RETURN QUERY SELECT 'CLOSED'::text, v_state, r.payment_id, r.total_price, NULL::int, v_closes;
        RETURN;
    END IF;

    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.cancelled', p_reservation, booking.event_payload(p_reservation, 'SOLD'));
    UPDATE booking.reservation_seats s SET state = 'RELEASED'
     WHERE s.reservation_id = p_reservation AND s.state = 'SOLD';
    UPDATE booking.reservations t SET state = 'CANCELLED', ended_at = now() WHERE t.id = p_reservation;
    RETURN QUERY SELECT 'CANCELLED'::text, 'CANCELLED'::text, r.payment_id, r.total_price, v_percent, v_closes;
END
$$;

-- The reservation as GET /api/v1/reservations/{id} shows it (expired on read), for the answer of a cancel
-- that payment serves; seats as a JSON array ordered by seat id. No row for an unknown one.
CREATE FUNCTION booking.reservation_view(p_reservation uuid)
RETURNS TABLE (id uuid, schedule_id bigint, state text, total_price bigint, expires_at timestamptz,
               created_at timestamptz, seats jsonb)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.schedule_id,
           CASE WHEN r.state = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END,
           r.total_price, r.expires_at, r.created_at,
           coalesce((SELECT jsonb_agg(jsonb_build_object('seatId', s.seat_id, 'zoneId', s.zone_id,
                                                         'price', s.price, 'state', s.state)
                                      ORDER BY s.seat_id)
                       FROM booking.reservation_seats s WHERE s.reservation_id = r.id), '[]'::jsonb)
      FROM booking.reservations r
     WHERE r.id = p_reservation
$$;
