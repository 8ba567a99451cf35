-- Payments (결제): a PENDING row before any gateway call, then one local transaction (payment.finish) that
-- confirms the reservation, debits the points and approves the payment — or fails it, all or nothing.
-- Invariant 3 (no payment taken twice, none lost) rests on UNIQUE (user_id, idempotency_key), the payment id
-- as the gateway's idempotency key, the ledger's UNIQUE (wallet_id, idempotency_key), the one-live-payment
-- index and the recovery job that drives every PENDING row to APPROVED or FAILED (docs/erd.md).

CREATE TABLE payment.payments (
    id                uuid        PRIMARY KEY,
    user_id           uuid        NOT NULL,
    reservation_id    uuid        NOT NULL,
    queue_token_id    uuid        NOT NULL,
    idempotency_key   text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    request_hash      bytea       NOT NULL,
    method            text        NOT NULL CHECK (method IN ('POINTS', 'CARD', 'POINTS+CARD')),
    amount            bigint      NOT NULL CHECK (amount > 0),
    points_amount     bigint      NOT NULL CHECK (points_amount >= 0),
    card_amount       bigint      NOT NULL CHECK (card_amount >= 0),
    state             text        NOT NULL DEFAULT 'PENDING'
                                  CHECK (state IN ('PENDING', 'APPROVED', 'FAILED', 'REFUNDED')),
    pg_status         text        NOT NULL
                                  CHECK (pg_status IN ('NONE', 'REQUESTED', 'APPROVED', 'DECLINED', 'CANCELLED')),
    pg_transaction_id text,
    failure_code      text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    CHECK (points_amount + card_amount = amount),
    CHECK ((method = 'POINTS' AND card_amount = 0)
        OR (method = 'CARD' AND points_amount = 0)
        OR (method = 'POINTS+CARD' AND points_amount > 0 AND card_amount > 0)),
    CHECK ((card_amount = 0) = (pg_status = 'NONE')),
    CHECK (state NOT IN ('APPROVED', 'REFUNDED') OR card_amount = 0 OR pg_status IN ('APPROVED', 'CANCELLED')),
    CHECK ((state = 'PENDING') = (decided_at IS NULL)),
    CONSTRAINT payments_user_idempotency_key UNIQUE (user_id, idempotency_key)
);
-- One payment under way or done per reservation: a second concurrent attempt with another key -> 409.
CREATE UNIQUE INDEX payments_one_live_per_reservation
    ON payment.payments (reservation_id) WHERE state IN ('PENDING', 'APPROVED');
CREATE INDEX payments_pending_idx   ON payment.payments (created_at) WHERE state = 'PENDING';
CREATE INDEX payments_to_cancel_idx ON payment.payments (updated_at) WHERE state = 'FAILED' AND pg_status = 'APPROVED';
CREATE INDEX payments_user_idx      ON payment.payments (user_id, created_at DESC);

CREATE TABLE payment.outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    event_type   text        NOT NULL CHECK (event_type IN ('payment.approved', 'payment.failed', 'payment.refunded')),
    aggregate_id uuid        NOT NULL,
    payload      jsonb       NOT NULL,
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON payment.outbox (id) WHERE published_at IS NULL;

-- The final local transaction of a payment (sequence queue-hold-pay.md, section 3, steps 13–15), in the
-- caller's transaction: reservation CONFIRMED with its seats SOLD (booking.confirm), the points debited with
-- their ledger row (wallet.debit), the payment APPROVED and payment.approved in the outbox. Or, when the
-- hold is no longer live or the points fell short, none of that: the payment FAILED with the reason and
-- payment.failed in the outbox. A card part the gateway approved is recorded first (pg_status APPROVED), so
-- a FAILED payment that still holds a card charge is on the recovery job's cancel list.
-- Returns APPROVED, hold-expired, insufficient-points, or the state of a payment that is no longer PENDING
-- (a recovery pass racing the request: only the first one acts).
CREATE FUNCTION payment.finish(p_payment uuid, p_pg_transaction text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p         payment.payments%ROWTYPE;
    v_confirm text;
    v_debit   text;
    v_failure text;
BEGIN
    SELECT * INTO p FROM payment.payments WHERE id = p_payment FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no payment %', p_payment;
    END IF;
    IF p.state <> 'PENDING' THEN
        RETURN p.state;
    END IF;
    IF p.card_amount > 0 THEN
        IF p_pg_transaction IS NULL THEN
            RAISE EXCEPTION 'payment % has a card part but no gateway transaction', p_payment;
        END IF;
        UPDATE payment.payments SET pg_status = 'APPROVED', pg_transaction_id = p_pg_transaction
         WHERE id = p_payment;
    END IF;

    BEGIN  -- a subtransaction: points short → the confirm is undone with it
        v_confirm := booking.confirm(p.reservation_id, p.id);
        IF v_confirm NOT IN ('CONFIRMED', 'ALREADY_CONFIRMED') THEN
            -- EXPIRED (its expiry is kept: seats released, event written), CANCELLED or NOT_FOUND.
            v_failure := 'hold-expired';
        ELSIF p.points_amount > 0 THEN
            SELECT d.outcome INTO v_debit
              FROM wallet.debit(p.user_id, p.points_amount, 'payment:' || p.id, p.id) d;
            IF v_debit = 'INSUFFICIENT' THEN
                RAISE EXCEPTION USING ERRCODE = 'MQ402', MESSAGE = 'insufficient-points';
            END IF;
        END IF;
    EXCEPTION WHEN SQLSTATE 'MQ402' THEN
        v_failure := 'insufficient-points';
    END;

    IF v_failure IS NULL THEN
        UPDATE payment.payments
           SET state = 'APPROVED', lease_until = NULL, updated_at = now(), decided_at = now()
         WHERE id = p_payment;
    ELSE
        UPDATE payment.payments
           SET state = 'FAILED', failure_code = v_failure, lease_until = NULL, updated_at = now(),
               decided_at = now()
         WHERE id = p_payment;
    END IF;
    INSERT INTO payment.outbox (event_type, aggregate_id, payload)
    SELECT CASE WHEN v_failure IS NULL THEN 'payment.approved' ELSE 'payment.failed' END, p.id,
           jsonb_build_object('paymentId', p.id, 'reservationId', p.reservation_id, 'userId', p.user_id,
                              'queueTokenId', p.queue_token_id, 'amount', p.amount,
                              'pointsAmount', p.points_amount, 'cardAmount', p.card_amount,
                              'failureCode', v_failure);
    RETURN coalesce(v_failure, 'APPROVED');
END
$$;
