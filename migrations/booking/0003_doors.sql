-- Booking's doors for the other services (docs/erd.md, "Functions across schemas"): payment reads a
-- reservation and confirms it inside its own final transaction; catalog rebuilds availability from the
-- live seats. Expiry is decided by the database clock here too: a HELD row with expires_at <= now() is
-- EXPIRED on read and can never be confirmed.

-- These bodies name catalog's function; services migrate in any order (and a booking-only process migrates
-- booking alone), so PostgreSQL checks the bodies when they first run rather than now.
SET LOCAL check_function_bodies = off;

-- The event payload every reservation.* event carries: the reservation's seats in `p_seat_state`, with their
-- indexes in the schedule's layout (catalog's availability bitset is addressed by seat index).
CREATE FUNCTION booking.event_payload(p_reservation uuid, p_seat_state text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'reservationId', r.id, 'scheduleId', r.schedule_id, 'userId', r.user_id,
               'seatIds', coalesce((SELECT jsonb_agg(s.seat_id ORDER BY s.seat_id)
                                      FROM booking.reservation_seats s
                                     WHERE s.reservation_id = r.id AND s.state = p_seat_state), '[]'::jsonb),
               'seatIndexes', coalesce((SELECT jsonb_agg(h.seat_index ORDER BY h.seat_id)
                                          FROM catalog.seats_for_hold(r.schedule_id, ARRAY(
                                                   SELECT s.seat_id FROM booking.reservation_seats s
                                                    WHERE s.reservation_id = r.id AND s.state = p_seat_state)) h),
                                       '[]'::jsonb))
      FROM booking.reservations r
     WHERE r.id = p_reservation
$$;

-- The reservation as its owner sees it, expired on read; another user's or an unknown one: no row.
CREATE FUNCTION booking.reservation_for_payment(p_reservation uuid, p_user uuid)
RETURNS TABLE (state text, schedule_id bigint, total_price bigint, expires_at timestamptz,
               queue_token_id uuid, payment_id uuid)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN r.state = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END,
           r.schedule_id, r.total_price, r.expires_at, r.queue_token_id, r.payment_id
      FROM booking.reservations r
     WHERE r.id = p_reservation AND r.user_id = p_user
$$;

-- HELD and live → CONFIRMED with its seats SOLD and a reservation.confirmed event, in the caller's
-- transaction. The row lock orders a confirm against a concurrent release or sweep: whichever commits
-- first wins, and the loser sees the final state. An overdue hold is expired here (seats RELEASED, event
-- written) so the caller's refund and the seats' return happen together.
-- Returns CONFIRMED, ALREADY_CONFIRMED (by this payment), EXPIRED, CANCELLED or NOT_FOUND; a reservation
-- confirmed by another payment reads as CANCELLED for this one (it can never be paid twice).
CREATE FUNCTION booking.confirm(p_reservation uuid, p_payment uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state   text;
    v_payment uuid;
    v_live    boolean;
BEGIN
    SELECT r.state, r.payment_id, r.expires_at > now() INTO v_state, v_payment, v_live
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
    UPDATE booking.reservations
       SET state = 'CONFIRMED', payment_id = p_payment, confirmed_at = now()
     WHERE id = p_reservation;
    UPDATE booking.reservation_seats SET state = 'SOLD'
     WHERE reservation_id = p_reservation AND state = 'HELD';
    INSERT INTO booking.outbox (event_type, aggregate_id, payload)
    VALUES ('reservation.confirmed', p_reservation, booking.event_payload(p_reservation, 'SOLD'));
    RETURN 'CONFIRMED';
END
$$;

-- The live seats of a schedule: HELD (not yet past expires_at) and SOLD. Catalog rebuilds its availability
-- bitset from this; it uses reservation_seats_one_live_per_seat (schedule_id, seat_id).
CREATE FUNCTION booking.seat_states(p_schedule bigint)
RETURNS TABLE (seat_id bigint, state text)
LANGUAGE sql STABLE AS $$
    SELECT s.seat_id, s.state
      FROM booking.reservation_seats s
      JOIN booking.reservations r ON r.id = s.reservation_id
     WHERE s.schedule_id = p_schedule AND s.state IN ('HELD', 'SOLD')
       AND (s.state = 'SOLD' OR r.expires_at > now())
     ORDER BY s.seat_id
$$;
