-- Fewer index entries per payment (issue 15; docs/decisions/0044-fewer-writes-per-purchase.md; booking/0013
-- says how they were counted).
--
-- - payments_user_idx (user_id, created_at DESC): no statement reads a user's payments in time order. Every
--   lookup by user is by (user_id, idempotency_key), which payments_user_idempotency_key serves.
-- - the outbox's UNIQUE (event_id) and its primary key (id): nothing looks an event up by its event_id, and the
--   relay reads and marks rows through outbox_unpublished_idx (booking/0013).
DROP INDEX payment.payments_user_idx;
ALTER TABLE payment.outbox DROP CONSTRAINT outbox_event_id_key;
ALTER TABLE payment.outbox DROP CONSTRAINT outbox_pkey;
