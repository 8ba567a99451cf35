-- A charge's approval in one statement (docs/performance.md, "What was changed"): the store used a
-- transaction of four round trips (BEGIN, UPDATE the charge, credit the wallet, COMMIT), and under load each
-- trip waited for the service's event loop while the connection stayed leased. Same steps, same semantics,
-- one call. The ledger key is derived from the charge, so even a second approval could not credit twice.
-- Returns CREDITED, ALREADY_APPROVED, or WAS_FAILED (the charge had failed before the approval arrived).
CREATE FUNCTION wallet.approve_charge(p_charge uuid, p_pg_transaction_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_user   uuid;
    v_amount bigint;
    v_state  text;
BEGIN
    UPDATE wallet.charges c
       SET state = 'APPROVED', pg_status = 'APPROVED', pg_transaction_id = p_pg_transaction_id,
           lease_until = NULL, updated_at = now()
     WHERE c.id = p_charge AND c.state = 'PENDING'
    RETURNING c.user_id, c.amount INTO v_user, v_amount;
    IF NOT FOUND THEN
        SELECT c.state INTO v_state FROM wallet.charges c WHERE c.id = p_charge;
        RETURN CASE WHEN v_state = 'APPROVED' THEN 'ALREADY_APPROVED' ELSE 'WAS_FAILED' END;
    END IF;
    PERFORM wallet.apply(v_user, 'CHARGE', v_amount, 'charge:' || p_charge, p_charge);
    RETURN 'CREDITED';
END
$$;
