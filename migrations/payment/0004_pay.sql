-- A points payment in one statement, a card payment in two around the gateway call (issue 15;
-- docs/decisions/0013-one-statement-points-payment.md, after ADR 0011).
--
-- A points payment was seven statements, each its own round trip and commit: the payment by key, the
-- reservation (booking.reservation_for_payment), the balance, the payment INSERT (PENDING), payment.finish,
-- a read of the payment and a read of the balance. payment.pay runs the same steps in the same order inside
-- PostgreSQL, in one transaction: the replay by Idempotency-Key, the reservation (the caller's, HELD, not
-- expired), the refusals recorded FAILED (already-confirmed, hold-expired, insufficient-points), the payment
-- row, the confirm, the debit and the outbox event. What guards the money and the seats is unchanged:
-- UNIQUE (user_id, idempotency_key), the one-live-payment index, booking.confirm's row lock and conditional
-- state change, reservation_seats_one_live_per_seat, the ledger's UNIQUE (wallet_id, idempotency_key) and the
-- balance CHECK.
--
-- A payment with a card part is recorded PENDING by the same call (outcome BEGUN); the gateway is called with
-- no transaction open; payment.settle then applies its answer (payment.finish, or the failure) and returns the
-- payment and the balance the client is answered with.
SET LOCAL check_function_bodies = off;  -- the bodies name booking's and wallet's doors, migrated separately

-- p_schedule: the schedule the caller checked the queue token against. When it is not the reservation's, the
-- token is not valid for this reservation (WRONG_SCHEDULE, nothing written). p_points: the points part of a
-- POINTS+CARD payment (NULL otherwise).
--
-- outcome  payment  meaning
-- REPLAY   the row  a payment with this key exists (balance: the wallet's, for the replay's answer)
-- NOT_FOUND         no such reservation, or another user's
-- WRONG_SCHEDULE    the reservation is not in p_schedule
-- BAD_SPLIT         POINTS+CARD with a points part outside 1 .. total - 1 (total: the reservation's price)
-- IN_PROGRESS       another key's payment for this reservation is PENDING (409)
-- ALREADY_CONFIRMED another key's payment for this reservation is APPROVED (409)
-- FAILED   the row  refused and recorded FAILED (failure_code: already-confirmed, hold-expired,
--                   insufficient-points), so a retry with the key answers the same
-- APPROVED the row  POINTS: paid; the reservation CONFIRMED, its seats SOLD, the points debited (balance:
--                   what is left), payment.approved and reservation.confirmed in the outboxes
-- BEGUN    the row  a card part: recorded PENDING, the gateway is next, then payment.settle
-- schedule_id is the reservation's (the queue token to end after a payment), total its price.
CREATE FUNCTION payment.pay(p_user uuid, p_reservation uuid, p_schedule bigint, p_queue_token uuid,
                            p_key text, p_request_hash bytea, p_method text, p_points bigint,
                            p_traceparent text)
RETURNS TABLE (outcome text, payment payment.payments, balance bigint, schedule_id bigint, total bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v         payment.payments%ROWTYPE;
    v_state   text;
    v_sched   bigint;
    v_total   bigint;
    v_points  bigint;
    v_card    bigint;
    v_wallet  uuid;
    v_balance bigint;
    v_failure text;
    v_live    text;
BEGIN
    -- The outbox rows below (the columns' default) carry the trace of the request (payment/0003, booking/0004).
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);

    SELECT * INTO v FROM payment.payments t WHERE t.user_id = p_user AND t.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT 'REPLAY'::text, v, wallet.balance(p_user), NULL::bigint, v.amount;
        RETURN;
    END IF;

    SELECT f.state, f.schedule_id, f.total_price INTO v_state, v_sched, v_total
      FROM booking.reservation_for_payment(p_reservation, p_user) f;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::payment.payments, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_schedule IS DISTINCT FROM v_sched THEN
        RETURN QUERY SELECT 'WRONG_SCHEDULE'::text, NULL::payment.payments, NULL::bigint, v_sched, v_total;
        RETURN;
    END IF;

    IF p_method = 'POINTS' THEN
        v_points := v_total;
        v_card := 0;
    ELSIF p_method = 'CARD' THEN
        v_points := 0;
        v_card := v_total;
    ELSIF p_method = 'POINTS+CARD' THEN
        IF p_points IS NULL OR p_points < 1 OR p_points >= v_total THEN
            RETURN QUERY SELECT 'BAD_SPLIT'::text, NULL::payment.payments, NULL::bigint, v_sched, v_total;
            RETURN;
        END IF;
        v_points := p_points;
        v_card := v_total - p_points;
    ELSE
        RAISE EXCEPTION 'unknown payment method %', p_method;
    END IF;

    -- The refusals the service recorded before any gateway call, in its order.
    IF v_state = 'CONFIRMED' THEN
        v_failure := 'already-confirmed';
    ELSIF v_state <> 'HELD' THEN
        v_failure := 'hold-expired';
    ELSIF v_points > 0 AND v_card > 0 THEN
        -- The early check spares a card charge that would be refunded; payment.finish still decides.
        IF wallet.balance(p_user) < v_points THEN
            v_failure := 'insufficient-points';
        END IF;
    END IF;

    -- A points payment is written APPROVED at once (its transaction either completes it or, below, fails
    -- it: no one ever sees it PENDING); a card payment PENDING. Either way it takes the reservation's place in
    -- payments_one_live_per_reservation, so a concurrent payment with another key waits here for this one
    -- and is then refused. ON CONFLICT without a target covers that index and the key's UNIQUE alike.
    INSERT INTO payment.payments AS t (id, user_id, reservation_id, queue_token_id, idempotency_key,
                                       request_hash, method, amount, points_amount, card_amount, pg_status,
                                       state, failure_code, decided_at)
    VALUES (gen_random_uuid(), p_user, p_reservation, p_queue_token, p_key, p_request_hash, p_method, v_total,
            v_points, v_card,
            CASE WHEN v_card = 0 THEN 'NONE' WHEN v_failure IS NULL THEN 'REQUESTED' ELSE 'DECLINED' END,
            CASE WHEN v_failure IS NOT NULL THEN 'FAILED' WHEN v_card = 0 THEN 'APPROVED' ELSE 'PENDING' END,
            v_failure,
            CASE WHEN v_failure IS NOT NULL OR v_card = 0 THEN now() END)
    ON CONFLICT DO NOTHING
    RETURNING t.* INTO v;
    IF NOT FOUND THEN
        SELECT * INTO v FROM payment.payments t WHERE t.user_id = p_user AND t.idempotency_key = p_key;
        IF FOUND THEN  -- the same key, concurrently: its request decided
            RETURN QUERY SELECT 'REPLAY'::text, v, wallet.balance(p_user), NULL::bigint, v.amount;
            RETURN;
        END IF;
        SELECT t.state INTO v_live FROM payment.payments t
         WHERE t.reservation_id = p_reservation AND t.state IN ('PENDING', 'APPROVED');
        RETURN QUERY SELECT CASE WHEN v_live = 'APPROVED' THEN 'ALREADY_CONFIRMED' ELSE 'IN_PROGRESS' END,
                            NULL::payment.payments, NULL::bigint, v_sched, v_total;
        RETURN;
    END IF;

    IF v_failure IS NOT NULL THEN
        RETURN QUERY SELECT 'FAILED'::text, v, NULL::bigint, v_sched, v_total;
        RETURN;
    END IF;
    IF v_card > 0 THEN
        RETURN QUERY SELECT 'BEGUN'::text, v, NULL::bigint, v_sched, v_total;
        RETURN;
    END IF;

    -- The points: the wallet is locked from here until this transaction ends, so the balance checked is the
    -- one debited below (wallet/0004). Locks are taken in one order, the payment's place first, then the
    -- wallet, then the reservation (in booking.confirm); payment.finish takes the reservation before the
    -- wallet, but it finishes a payment that holds the reservation's place, which this one then never got.
    SELECT l.wallet_id, l.balance INTO v_wallet, v_balance FROM wallet.lock(p_user) l;
    IF coalesce(v_balance, 0) < v_points THEN
        -- Refused as before any money moved (no event, as for the refusals above).
        UPDATE payment.payments t SET state = 'FAILED', failure_code = 'insufficient-points'
         WHERE t.id = v.id
        RETURNING t.* INTO v;
        RETURN QUERY SELECT 'FAILED'::text, v, NULL::bigint, v_sched, v_total;
        RETURN;
    END IF;

    -- payment.finish's steps for a points payment: the confirm (booking's door: HELD and live → CONFIRMED,
    -- seats SOLD, reservation.confirmed; an overdue hold is expired there, its expiry kept), then the debit.
    IF booking.confirm(p_reservation, v.id) = 'CONFIRMED' THEN
        v_balance := wallet.debit_locked(v_wallet, v_points, 'payment:' || v.id, v.id);
    ELSE
        v_failure := 'hold-expired';  -- it ran out (or was released) since it was read above
        UPDATE payment.payments t SET state = 'FAILED', failure_code = v_failure, updated_at = now()
         WHERE t.id = v.id
        RETURNING t.* INTO v;
    END IF;
    INSERT INTO payment.outbox (event_type, aggregate_id, payload)
    VALUES (CASE WHEN v_failure IS NULL THEN 'payment.approved' ELSE 'payment.failed' END, v.id,
            jsonb_build_object('paymentId', v.id, 'reservationId', v.reservation_id, 'userId', v.user_id,
                               'queueTokenId', v.queue_token_id, 'amount', v.amount,
                               'pointsAmount', v.points_amount, 'cardAmount', v.card_amount,
                               'failureCode', v_failure));
    RETURN QUERY SELECT CASE WHEN v_failure IS NULL THEN 'APPROVED' ELSE 'FAILED' END, v, v_balance, v_sched,
                        v_total;
END
$$;

-- The gateway's answer to a PENDING payment (a card part) applied in one statement, with the payment and the
-- balance to answer:
--   p_answer APPROVED     payment.finish (p_pg_transaction: the gateway's; NULL for a payment without a card
--                         part, which recovery finishes the same way)
--            DECLINED     PENDING → FAILED card-declined (pg_status DECLINED), payment.failed
--            NOT_CHARGED  PENDING → FAILED pg-unavailable (pg_status DECLINED), payment.failed
--            UNKNOWN      nothing: left PENDING for the recovery job
-- outcome: payment.finish's (APPROVED, hold-expired, insufficient-points, or the state of a payment someone
-- else decided), FAILED, or PENDING.
CREATE FUNCTION payment.settle(p_payment uuid, p_answer text, p_pg_transaction text, p_traceparent text)
RETURNS TABLE (outcome text, payment payment.payments, balance bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v         payment.payments%ROWTYPE;
    v_outcome text;
    v_failure text;
BEGIN
    PERFORM set_config('marquee.traceparent', coalesce(p_traceparent, ''), true);
    IF p_answer = 'APPROVED' THEN
        v_outcome := payment.finish(p_payment, p_pg_transaction);
    ELSIF p_answer IN ('DECLINED', 'NOT_CHARGED') THEN
        v_failure := CASE WHEN p_answer = 'DECLINED' THEN 'card-declined' ELSE 'pg-unavailable' END;
        UPDATE payment.payments t
           SET state = 'FAILED', pg_status = 'DECLINED', failure_code = v_failure, lease_until = NULL,
               updated_at = now(), decided_at = now()
         WHERE t.id = p_payment AND t.state = 'PENDING'
        RETURNING t.* INTO v;
        IF FOUND THEN
            INSERT INTO payment.outbox (event_type, aggregate_id, payload)
            VALUES ('payment.failed', v.id,
                    jsonb_build_object('paymentId', v.id, 'reservationId', v.reservation_id,
                                       'userId', v.user_id, 'amount', v.amount,
                                       'pointsAmount', v.points_amount, 'cardAmount', v.card_amount,
                                       'failureCode', v_failure));
        END IF;
    ELSIF p_answer <> 'UNKNOWN' THEN
        RAISE EXCEPTION 'unknown gateway answer %', p_answer;
    END IF;
    SELECT * INTO v FROM payment.payments t WHERE t.id = p_payment;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no payment %', p_payment;
    END IF;
    RETURN QUERY SELECT coalesce(v_outcome, v.state), v, wallet.balance(v.user_id);
END
$$;
