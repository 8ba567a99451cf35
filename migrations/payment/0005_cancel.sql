-- Cancellation and refund of a paid reservation (issue 17 item 5, 예매 취소/환불;
-- docs/decisions/0028-cancellation-and-refund.md).
--
-- One statement decides a cancellation (payment.cancel): the reservation CANCELLED with its seats RELEASED
-- (booking.cancel: its row lock decides a race with a second cancel; the fee tier is read at the database
-- clock), the payment REFUNDED, the fee kept (from the card part first, then the points), the points part
-- given back to the wallet with its REFUND ledger row (wallet.refund, key 'refund:' || payment id), a refund
-- row and payment.refunded in the outbox. The card part is refunded at the gateway afterwards, with no
-- transaction open, under the refund's id as the gateway's Idempotency-Key; a refund the gateway did not
-- confirm stays PENDING and the recovery job posts it again (the same key: never refunded twice) until it
-- settles (payment.settle_refund).
SET LOCAL check_function_bodies = off;  -- the bodies name booking's and wallet's doors, migrated separately

CREATE TABLE payment.refunds (
    id              uuid        PRIMARY KEY,   -- also the gateway's Idempotency-Key for the card part
    payment_id      uuid        NOT NULL UNIQUE REFERENCES payment.payments (id),
    reservation_id  uuid        NOT NULL UNIQUE,
    user_id         uuid        NOT NULL,
    idempotency_key text        CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),  -- optional
    fee_percent     smallint    NOT NULL CHECK (fee_percent BETWEEN 0 AND 100),
    fee             bigint      NOT NULL CHECK (fee >= 0),
    points_amount   bigint      NOT NULL CHECK (points_amount >= 0),   -- back to the wallet
    card_amount     bigint      NOT NULL CHECK (card_amount >= 0),     -- back to the card, at the gateway
    state           text        NOT NULL CHECK (state IN ('PENDING', 'REFUNDED')),
    pg_refund_id    text,                                              -- the gateway's refund key
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    refunded_at     timestamptz,
    CHECK ((state = 'REFUNDED') = (refunded_at IS NOT NULL)),
    CHECK (state = 'PENDING' OR card_amount = 0 OR pg_refund_id IS NOT NULL),
    CHECK (state = 'REFUNDED' OR card_amount > 0),
    CONSTRAINT refunds_user_idempotency_key UNIQUE (user_id, idempotency_key)
);
CREATE INDEX refunds_pending_idx ON payment.refunds (created_at) WHERE state = 'PENDING';

-- The cancellation of the caller's reservation at the database clock (now(): the transaction's instant), in
-- one transaction. p_key: the optional Idempotency-Key.
--   outcome          refund  meaning
--   REPLAY           the row the reservation was cancelled before (by this or a concurrent request): its refund
--   KEY_REUSED               p_key names the cancellation of another reservation
--   NOT_FOUND                no such reservation, or another user's
--   NOT_CANCELLABLE          not CONFIRMED (state: HELD, EXPIRED, or CANCELLED as a released hold)
--   CLOSED                   past the schedule's cancellation deadline (deadline set)
--   CANCELLED        the row cancelled now; state PENDING when a card part is still to be refunded
CREATE FUNCTION payment.cancel(p_user uuid, p_reservation uuid, p_key text, p_traceparent text)
RETURNS TABLE (outcome text, refund payment.refunds, state text, deadline timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v        payment.refunds%ROWTYPE;
    p        payment.payments%ROWTYPE;
    c        record;
    v_fee    bigint;
    v_points bigint;
    v_card   bigint;
BEGIN
    -- The outbox rows below (the columns' default) carry the trace of the request (payment/0003, booking/0004).
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);

    IF p_key IS NOT NULL THEN
        SELECT * INTO v FROM payment.refunds t WHERE t.user_id = p_user AND t.idempotency_key = p_key;
        IF FOUND AND v.reservation_id <> p_reservation THEN
            RETURN QUERY SELECT 'KEY_REUSED'::text, NULL::payment.refunds, NULL::text, NULL::timestamptz;
            RETURN;
        END IF;
    END IF;
    SELECT * INTO v FROM payment.refunds t WHERE t.reservation_id = p_reservation AND t.user_id = p_user;
    IF FOUND THEN
        RETURN QUERY SELECT 'REPLAY'::text, v, 'CANCELLED'::text, NULL::timestamptz;
        RETURN;
    END IF;

    SELECT * INTO c FROM booking.cancel(p_reservation, p_user, now());
    IF c.outcome = 'WAS_CANCELLED' THEN
        -- A concurrent cancel committed while this one waited for the reservation's lock: its answer (this
        -- statement sees what committed before it started).
        SELECT * INTO v FROM payment.refunds t WHERE t.reservation_id = p_reservation AND t.user_id = p_user;
        IF FOUND THEN
            RETURN QUERY SELECT 'REPLAY'::text, v, 'CANCELLED'::text, NULL::timestamptz;
            RETURN;
        END IF;
        RETURN QUERY SELECT 'NOT_CANCELLABLE'::text, NULL::payment.refunds, c.state, NULL::timestamptz;
        RETURN;
    END IF;
    IF c.outcome <> 'CANCELLED' THEN
        RETURN QUERY SELECT c.outcome, NULL::payment.refunds, c.state, c.deadline;
        RETURN;
    END IF;

    UPDATE payment.payments t SET state = 'REFUNDED', lease_until = NULL, updated_at = now()
     WHERE t.id = c.payment_id AND t.state = 'APPROVED'
    RETURNING t.* INTO p;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reservation % is CONFIRMED without its APPROVED payment %', p_reservation, c.payment_id;
    END IF;

    -- The fee is kept from the card part first, then from the points (ADR 0028).
    v_fee := (c.total_price * c.fee_percent) / 100;
    v_card := greatest(p.card_amount - v_fee, 0);
    v_points := p.points_amount - greatest(v_fee - p.card_amount, 0);

    INSERT INTO payment.refunds AS t (id, payment_id, reservation_id, user_id, idempotency_key, fee_percent, fee,
                                      points_amount, card_amount, state, refunded_at)
    VALUES (gen_random_uuid(), p.id, p_reservation, p_user, p_key, c.fee_percent, v_fee, v_points, v_card,
            CASE WHEN v_card = 0 THEN 'REFUNDED' ELSE 'PENDING' END, CASE WHEN v_card = 0 THEN now() END)
    RETURNING t.* INTO v;

    IF v_points > 0 THEN
        PERFORM wallet.refund(p_user, v_points, 'refund:' || p.id, p.id);
    END IF;

    INSERT INTO payment.outbox (event_type, aggregate_id, payload)
    VALUES ('payment.refunded', p.id,
            jsonb_build_object('paymentId', p.id, 'reservationId', p_reservation, 'userId', p_user,
                               'refundId', v.id, 'feePercent', v.fee_percent, 'fee', v.fee,
                               'pointsAmount', v.points_amount, 'cardAmount', v.card_amount));
    RETURN QUERY SELECT 'CANCELLED'::text, v, 'CANCELLED'::text, c.deadline;
END
$$;

-- The gateway confirmed a refund's card part: PENDING → REFUNDED, once (the request and a recovery pass may
-- both get here). Returns the refund as it now is.
CREATE FUNCTION payment.settle_refund(p_refund uuid, p_pg_refund_id text) RETURNS SETOF payment.refunds
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payment.refunds t
       SET state = 'REFUNDED', pg_refund_id = p_pg_refund_id, refunded_at = now(), lease_until = NULL,
           updated_at = now()
     WHERE t.id = p_refund AND t.state = 'PENDING';
    RETURN QUERY SELECT * FROM payment.refunds t WHERE t.id = p_refund;
END
$$;
