-- A top-up in two statements around the gateway call, and the doors a one-statement points payment needs
-- (issue 15; docs/decisions/0013-one-statement-points-payment.md).
--
-- A top-up was four round trips: the charge INSERT (a second SELECT on a replay), the gateway, then
-- wallet.approve_charge, a read of the charge and a read of the balance. wallet.begin_charge records the
-- charge (or finds the one recorded under the key) and returns it with the balance a replay answers with;
-- wallet.settle_charge applies the gateway's answer and returns the charge and the balance the client is
-- answered with. Same rows, same outcomes, same recovery (the PENDING row and its lease are unchanged).

-- The charge recorded for (user, key): created now (created = true) or earlier (created = false, with the
-- wallet's balance for the replay's answer). The wallet is made on first use, as before.
CREATE FUNCTION wallet.begin_charge(p_user uuid, p_key text, p_request_hash bytea, p_amount bigint)
RETURNS TABLE (created boolean, charge wallet.charges, balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v wallet.charges%ROWTYPE;
BEGIN
    INSERT INTO wallet.charges AS c (id, wallet_id, user_id, idempotency_key, request_hash, amount)
    VALUES (gen_random_uuid(),
            coalesce((SELECT w.id FROM wallet.wallets w WHERE w.user_id = p_user), wallet.ensure(p_user)),
            p_user, p_key, p_request_hash, p_amount)
    ON CONFLICT (user_id, idempotency_key) DO NOTHING
    RETURNING c.* INTO v;
    IF FOUND THEN
        RETURN QUERY SELECT true, v, NULL::bigint;
        RETURN;
    END IF;
    -- Another request with this key made it (perhaps concurrently: ON CONFLICT waited for it to commit, and
    -- this statement's fresh snapshot sees it).
    SELECT * INTO v FROM wallet.charges c WHERE c.user_id = p_user AND c.idempotency_key = p_key;
    RETURN QUERY SELECT false, v, wallet.balance(p_user);
END
$$;

-- The gateway's answer to a PENDING charge, applied in one statement:
--   p_answer APPROVED     PENDING → APPROVED and the wallet credited with its ledger row (key 'charge:<id>')
--            DECLINED     PENDING → FAILED (pg_status DECLINED, failure_code p_decline_code or CARD_DECLINED)
--            NOT_CHARGED  PENDING → FAILED (pg_status REQUESTED, PG_UNAVAILABLE): the gateway took nothing
--            UNKNOWN      nothing: the charge stays PENDING for the recovery job
-- outcome: CREDITED, ALREADY_APPROVED, WAS_FAILED (approved by the gateway after the charge had failed: the
-- caller refunds it at the gateway), FAILED, PENDING, or the final state of a charge someone else settled.
-- The conditional UPDATE decides once: of two settles (the request and a recovery pass) only one credits.
CREATE FUNCTION wallet.settle_charge(p_charge uuid, p_answer text, p_pg_transaction_id text,
                                     p_decline_code text)
RETURNS TABLE (outcome text, charge wallet.charges, balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v         wallet.charges%ROWTYPE;
    v_balance bigint;
    v_outcome text;
BEGIN
    IF p_answer = 'APPROVED' THEN
        UPDATE wallet.charges c
           SET state = 'APPROVED', pg_status = 'APPROVED', pg_transaction_id = p_pg_transaction_id,
               lease_until = NULL, updated_at = now()
         WHERE c.id = p_charge AND c.state = 'PENDING'
        RETURNING c.* INTO v;
        IF FOUND THEN
            -- The charge's wallet, by primary key (wallet.apply would look it up by user and lock it first;
            -- the UPDATE's row lock serialises this change with every other change to the wallet).
            UPDATE wallet.wallets w SET balance = w.balance + v.amount, updated_at = now()
             WHERE w.id = v.wallet_id
            RETURNING w.balance INTO v_balance;
            -- UNIQUE (wallet_id, idempotency_key) would refuse a second credit of this charge.
            INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, reference_id)
            VALUES (v.wallet_id, 'CHARGE', v.amount, v_balance, 'charge:' || v.id, v.id);
            RETURN QUERY SELECT 'CREDITED'::text, v, v_balance;
            RETURN;
        END IF;
        SELECT * INTO v FROM wallet.charges c WHERE c.id = p_charge;
        v_outcome := CASE WHEN v.state = 'APPROVED' THEN 'ALREADY_APPROVED' ELSE 'WAS_FAILED' END;
    ELSIF p_answer IN ('DECLINED', 'NOT_CHARGED') THEN
        UPDATE wallet.charges c
           SET state = 'FAILED',
               pg_status = CASE WHEN p_answer = 'DECLINED' THEN 'DECLINED' ELSE 'REQUESTED' END,
               failure_code = CASE WHEN p_answer = 'DECLINED' THEN coalesce(nullif(p_decline_code, ''),
                                                                               'CARD_DECLINED')
                                   ELSE 'PG_UNAVAILABLE' END,
               lease_until = NULL, updated_at = now()
         WHERE c.id = p_charge AND c.state = 'PENDING'
        RETURNING c.* INTO v;
        IF NOT FOUND THEN
            SELECT * INTO v FROM wallet.charges c WHERE c.id = p_charge;
        END IF;
        v_outcome := v.state;
    ELSIF p_answer = 'UNKNOWN' THEN
        SELECT * INTO v FROM wallet.charges c WHERE c.id = p_charge;
        v_outcome := v.state;
    ELSE
        RAISE EXCEPTION 'unknown gateway answer %', p_answer;
    END IF;
    IF v.id IS NULL THEN
        RAISE EXCEPTION 'no charge %', p_charge;
    END IF;
    RETURN QUERY SELECT v_outcome, v, (SELECT w.balance FROM wallet.wallets w WHERE w.id = v.wallet_id);
END
$$;

-- For payment.pay (migrations/payment/0004_pay.sql), inside its one transaction: the user's wallet locked
-- (FOR UPDATE) with its balance, or no row without a wallet. Held until the payment commits, the lock keeps
-- the balance the payment checked until it debits it, so the debit cannot fall short after the seats were
-- confirmed and no subtransaction is needed to undo them.
CREATE FUNCTION wallet.lock(p_user uuid) RETURNS TABLE (wallet_id uuid, balance bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT w.id, w.balance FROM wallet.wallets w WHERE w.user_id = p_user FOR UPDATE;
END
$$;

-- The debit of a wallet the caller locked with wallet.lock and found sufficient: the balance and its PAYMENT
-- ledger row. Raises (the caller's whole transaction is undone, nothing moves) if the balance falls short,
-- which the lock rules out, or if the key was used before (UNIQUE (wallet_id, idempotency_key); payment's
-- keys name a payment id made in the same transaction). Returns the balance after.
CREATE FUNCTION wallet.debit_locked(p_wallet uuid, p_amount bigint, p_key text, p_reference uuid)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'debit of % points', p_amount;
    END IF;
    UPDATE wallet.wallets w SET balance = w.balance - p_amount, updated_at = now()
     WHERE w.id = p_wallet AND w.balance >= p_amount
    RETURNING w.balance INTO v_balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'wallet % cannot pay % points', p_wallet, p_amount;
    END IF;
    INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, reference_id)
    VALUES (p_wallet, 'PAYMENT', -p_amount, v_balance, p_key, p_reference);
    RETURN v_balance;
END
$$;
