-- Fewer index entries per ledger row (issue 15; docs/decisions/0044-fewer-writes-per-purchase.md;
-- booking/0013 says how they were counted). A purchase writes two ledger rows (the top-up's CHARGE and the
-- payment's PAYMENT), each into three indexes: ledger_pkey (id), ledger_wallet_recent_idx (wallet_id, id DESC)
-- and ledger_wallet_idempotency_key. No statement looks a ledger row up by its id alone; the wallet's recent
-- rows (Store::view: WHERE wallet_id = $1 ORDER BY id DESC LIMIT n) read (wallet_id, id) backwards. So the
-- primary key becomes (wallet_id, id), which the identity id keeps unique, and the recent index goes: two
-- indexes per row. The money's guards are unchanged: UNIQUE (wallet_id, idempotency_key) refuses a second
-- credit or debit for one key, the CHECKs and the foreign key to the wallet stay.
ALTER TABLE wallet.ledger DROP CONSTRAINT ledger_pkey;
ALTER TABLE wallet.ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (wallet_id, id);
DROP INDEX wallet.ledger_wallet_recent_idx;
