-- Wallet: point balance (포인트), its ledger, and card top-ups (잔액 충전) through the payment gateway.
-- Invariant 2: a balance never goes negative, every change is a ledger row, balance = SUM(ledger.amount).

CREATE TABLE wallet.wallets (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL UNIQUE,
    balance    bigint      NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallet.ledger (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id       uuid        NOT NULL REFERENCES wallet.wallets (id),
    kind            text        NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT', 'REFUND')),
    amount          bigint      NOT NULL,
    balance_after   bigint      NOT NULL CHECK (balance_after >= 0),
    idempotency_key text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 300),
    reference_id    uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'PAYMENT' AND amount < 0) OR (kind IN ('CHARGE', 'REFUND') AND amount > 0)),
    CONSTRAINT ledger_wallet_idempotency_key UNIQUE (wallet_id, idempotency_key)
);
CREATE INDEX ledger_wallet_recent_idx ON wallet.ledger (wallet_id, id DESC);

CREATE TABLE wallet.charges (
    id                uuid        PRIMARY KEY,
    wallet_id         uuid        NOT NULL REFERENCES wallet.wallets (id),
    user_id           uuid        NOT NULL,
    idempotency_key   text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    request_hash      bytea       NOT NULL,
    amount            bigint      NOT NULL CHECK (amount > 0),
    state             text        NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'APPROVED', 'FAILED')),
    pg_status         text        NOT NULL DEFAULT 'REQUESTED'
                                  CHECK (pg_status IN ('REQUESTED', 'APPROVED', 'DECLINED', 'CANCELLED')),
    pg_transaction_id text,
    failure_code      text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT charges_user_idempotency_key UNIQUE (user_id, idempotency_key),
    CHECK (state <> 'APPROVED' OR pg_status = 'APPROVED')
);
CREATE INDEX charges_pending_idx ON wallet.charges (created_at) WHERE state = 'PENDING';

-- The wallet of a user, made on first use. Concurrent first uses agree on one row.
CREATE FUNCTION wallet.ensure(p_user uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO wallet.wallets (user_id) VALUES (p_user) ON CONFLICT (user_id) DO NOTHING;
    SELECT id INTO v_id FROM wallet.wallets WHERE user_id = p_user;
    RETURN v_id;
END
$$;

-- The balance, 0 without a wallet: payment's early check before any gateway call.
CREATE FUNCTION wallet.balance(p_user uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT balance FROM wallet.wallets WHERE user_id = p_user), 0)
$$;

-- Moves `p_amount` (signed) into or out of the user's wallet with its ledger row, once per idempotency key.
-- The conditional UPDATE refuses to go below zero (and the CHECK would refuse it anyway).
-- Outcomes: APPLIED, ALREADY_APPLIED (same key: nothing moved again), INSUFFICIENT (nothing moved).
CREATE FUNCTION wallet.apply(p_user uuid, p_kind text, p_amount bigint, p_key text, p_reference uuid)
RETURNS TABLE (outcome text, balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_wallet uuid := wallet.ensure(p_user);
    v_balance bigint;
BEGIN
    -- The wallet row lock serialises every change to one wallet, so the key check below cannot race.
    SELECT w.balance INTO v_balance FROM wallet.wallets w WHERE w.id = v_wallet FOR UPDATE;
    IF EXISTS (SELECT 1 FROM wallet.ledger l WHERE l.wallet_id = v_wallet AND l.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'ALREADY_APPLIED'::text, v_balance;
        RETURN;
    END IF;
    UPDATE wallet.wallets w SET balance = w.balance + p_amount, updated_at = now()
     WHERE w.id = v_wallet AND w.balance + p_amount >= 0
    RETURNING w.balance INTO v_balance;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'INSUFFICIENT'::text, (SELECT w.balance FROM wallet.wallets w WHERE w.id = v_wallet);
        RETURN;
    END IF;
    INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, reference_id)
    VALUES (v_wallet, p_kind, p_amount, v_balance, p_key, p_reference);
    RETURN QUERY SELECT 'APPLIED'::text, v_balance;
END
$$;

-- For payment, inside its own final transaction (ADR 0012: one local transaction).
CREATE FUNCTION wallet.debit(p_user uuid, p_amount bigint, p_key text, p_reference uuid)
RETURNS TABLE (outcome text, balance bigint)
LANGUAGE sql AS $$
    SELECT CASE a.outcome WHEN 'APPLIED' THEN 'DEBITED' ELSE a.outcome END, a.balance
      FROM wallet.apply(p_user, 'PAYMENT', -p_amount, p_key, p_reference) a
     WHERE p_amount > 0
$$;

CREATE FUNCTION wallet.refund(p_user uuid, p_amount bigint, p_key text, p_reference uuid)
RETURNS TABLE (outcome text, balance bigint)
LANGUAGE sql AS $$
    SELECT a.outcome, a.balance FROM wallet.apply(p_user, 'REFUND', p_amount, p_key, p_reference) a
     WHERE p_amount > 0
$$;
