-- The wallet a purchase has just read, locked or updated is not probed again by a foreign-key check
-- (issue 15; docs/decisions/0047-fewer-probes-per-purchase.md).
--
-- A purchase writes a charge (wallet.begin_charge) and two ledger rows (wallet.settle_charge, the payment's
-- wallet.debit_locked). Each INSERT ran the foreign key's check, a query of its own (SELECT 1 FROM
-- wallet.wallets WHERE id = $1 FOR KEY SHARE: executor set-up, an index probe, a row lock) on the wallet row
-- the same function had just found, created or updated one statement before. Three probes a purchase, each
-- proving what the function already knew.
--
-- The foreign keys ledger -> wallets and charges -> wallets are replaced by what they guaranteed, split:
--
-- - the referenced side: a wallet is never deleted and its id never changes. Triggers refuse any DELETE,
--   TRUNCATE or change of id of wallet.wallets (no statement of Marquee does either; the foreign keys refused
--   them for a wallet with rows). A wallet once seen therefore exists for good.
-- - the referencing side: a ledger row or a charge must name an existing wallet. A trigger checks it, as the
--   foreign key did (the same query, the same SQLSTATE 23503 and constraint name), unless the row names the
--   wallet this transaction has already seen: the functions below record the id they found in the
--   transaction-local setting marquee.wallet_seen, in the very statement that found the row (set_config in
--   its RETURNING or select list, so no statement is added). The setting ends with the transaction and with a
--   rolled-back subtransaction. Any other insert (wallet.apply's refunds, a test, a person at psql) is checked.
--
-- What the setting trusts: whoever sets it has seen that wallet in this transaction. A session that sets it by
-- hand to an id that names no wallet can write an orphan row, as one that disables triggers
-- (session_replication_role) could past the foreign key; only these functions set it.
SET LOCAL check_function_bodies = off;

CREATE FUNCTION wallet.refuse_wallet_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallets are never deleted and never change id (%)', TG_OP
        USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
END
$$;
CREATE TRIGGER wallets_never_deleted BEFORE DELETE ON wallet.wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_wallet_change();
CREATE TRIGGER wallets_never_truncated BEFORE TRUNCATE ON wallet.wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_wallet_change();
CREATE TRIGGER wallets_never_rekeyed BEFORE UPDATE OF id ON wallet.wallets
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION wallet.refuse_wallet_change();

-- The foreign key's check, for a row that names a wallet this transaction has not seen. TG_ARGV[0]: the name
-- of the foreign key it replaces, reported as the constraint of the 23503.
CREATE FUNCTION wallet.check_wallet_exists() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM wallet.wallets w WHERE w.id = NEW.wallet_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME,
                        TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[0], TABLE = TG_TABLE_NAME,
                  SCHEMA = TG_TABLE_SCHEMA, DETAIL = format('Key (wallet_id)=(%s) is not present in table "wallets".',
                                                            NEW.wallet_id);
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE wallet.ledger DROP CONSTRAINT ledger_wallet_id_fkey;
ALTER TABLE wallet.charges DROP CONSTRAINT charges_wallet_id_fkey;
CREATE CONSTRAINT TRIGGER ledger_wallet_id_fkey AFTER INSERT OR UPDATE OF wallet_id ON wallet.ledger
    FOR EACH ROW WHEN (NEW.wallet_id::text IS DISTINCT FROM current_setting('marquee.wallet_seen', true))
    EXECUTE FUNCTION wallet.check_wallet_exists('ledger_wallet_id_fkey');
CREATE CONSTRAINT TRIGGER charges_wallet_id_fkey AFTER INSERT OR UPDATE OF wallet_id ON wallet.charges
    FOR EACH ROW WHEN (NEW.wallet_id::text IS DISTINCT FROM current_setting('marquee.wallet_seen', true))
    EXECUTE FUNCTION wallet.check_wallet_exists('charges_wallet_id_fkey');

-- wallet/0002's, recording the wallet it returns.
CREATE OR REPLACE FUNCTION wallet.ensure(p_user uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO wallet.wallets (user_id) VALUES (p_user) ON CONFLICT (user_id) DO NOTHING;
    SELECT set_config('marquee.wallet_seen', id::text, true)::uuid INTO v_id
      FROM wallet.wallets WHERE user_id = p_user;
    RETURN v_id;
END
$$;

-- wallet/0004's, the wallet recorded as it is found (or made by wallet.ensure, which records it).
CREATE OR REPLACE FUNCTION wallet.begin_charge(p_user uuid, p_key text, p_request_hash bytea, p_amount bigint)
RETURNS TABLE (created boolean, charge wallet.charges, balance bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v wallet.charges%ROWTYPE;
BEGIN
    INSERT INTO wallet.charges AS c (id, wallet_id, user_id, idempotency_key, request_hash, amount)
    VALUES (gen_random_uuid(),
            coalesce((SELECT set_config('marquee.wallet_seen', w.id::text, true)::uuid
                        FROM wallet.wallets w WHERE w.user_id = p_user),
                     wallet.ensure(p_user)),
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

-- wallet/0004's, the credited wallet recorded by the UPDATE that credits it.
CREATE OR REPLACE FUNCTION wallet.settle_charge(p_charge uuid, p_answer text, p_pg_transaction_id text,
                                                p_decline_code text)
RETURNS TABLE (outcome text, charge wallet.charges, balance bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v         wallet.charges%ROWTYPE;
    v_balance bigint;
    v_outcome text;
    v_seen    text;
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
            RETURNING w.balance, set_config('marquee.wallet_seen', w.id::text, true) INTO v_balance, v_seen;
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

-- wallet/0004's, the debited wallet recorded by the UPDATE that debits it (the caller locked it with
-- wallet.lock).
CREATE OR REPLACE FUNCTION wallet.debit_locked(p_wallet uuid, p_amount bigint, p_key text, p_reference uuid)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint;
    v_seen    text;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'debit of % points', p_amount;
    END IF;
    UPDATE wallet.wallets w SET balance = w.balance - p_amount, updated_at = now()
     WHERE w.id = p_wallet AND w.balance >= p_amount
    RETURNING w.balance, set_config('marquee.wallet_seen', w.id::text, true) INTO v_balance, v_seen;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'wallet % cannot pay % points', p_wallet, p_amount;
    END IF;
    INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, reference_id)
    VALUES (p_wallet, 'PAYMENT', -p_amount, v_balance, p_key, p_reference);
    RETURN v_balance;
END
$$;
