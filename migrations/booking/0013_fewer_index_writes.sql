-- Fewer index entries per purchase (issue 15; docs/decisions/0044-fewer-writes-per-purchase.md).
--
-- A purchase wrote about 45 index entries in its five statements (bench/purchase-writes counts them from the
-- WAL): every INSERT writes one entry per index whose predicate holds, and every non-HOT UPDATE (a state
-- change: the state is in the partial indexes' predicates) one more per index again. booking.reservations had
-- seven indexes, so a hold and its confirm wrote thirteen entries there alone. Three of them did not pay:
--
-- - reservations_schedule_idx (schedule_id) served booking.sale_counts (ADR 0027), and the UNIQUE (id,
--   schedule_id) behind reservation_seats' composite foreign key served nothing else. One UNIQUE (schedule_id,
--   id) now does both: the foreign key needs a unique index on its referenced columns in any order, and
--   sale_counts reads its schedule_id prefix.
-- - reservations_user_idx (user_id, created_at DESC) served only GET /reservations (Store::list, the fan's
--   newest first). The Idempotency-Key's unique index, over every row now (a NULL key is distinct from every
--   other, so holds without a key still never conflict), leads with user_id too: the list reads the fan's rows
--   through it and sorts them. A fan has a handful; a fan with thousands sorts thousands on that page only.
--   The hold's ticket limit keeps its own reservations_fan_live_idx (ADR 0025: a fan's history costs a hold
--   nothing), and the key's index keeps its name, which the service reads from a unique_violation.
-- - the outbox's UNIQUE (event_id): nothing looks an event up by its id; event_id is gen_random_uuid() (a
--   collision has odds of 2^-122) and what depends on it, JetStream's duplicate window, reads the Nats-Msg-Id.
--
-- - the outbox's primary key (id): the relay reads and marks its rows through outbox_unpublished_idx (id) WHERE
--   published_at IS NULL (src/outbox/relay.cpp: the mark names `published_at IS NULL` too since ADR 0044), and
--   nothing else looks a row up by id. The identity keeps ids unique. A row's mark (published_at) is an UPDATE
--   that is not HOT (the column is in the partial index's predicate), so each of the purchase's three outbox
--   rows wrote an entry into the primary key twice, at its INSERT and at its mark; now into no index at its
--   mark. (Operations scripts that read `id > N` scan the table.)
--
-- Left as they were, each read by a query of the purchase or its recovery: reservations_pkey, _due_idx (the
-- sweeper), _fan_live_idx (the ticket limit), the three indexes of reservation_seats (one live row per seat is
-- invariant 1; live_by_zone is best available's) and outbox_unpublished_idx (the relay).
ALTER TABLE booking.reservation_seats DROP CONSTRAINT reservation_seats_reservation_id_schedule_id_fkey;
ALTER TABLE booking.reservations DROP CONSTRAINT reservations_id_schedule_id_key;
ALTER TABLE booking.reservations ADD CONSTRAINT reservations_schedule_id_id_key UNIQUE (schedule_id, id);
ALTER TABLE booking.reservation_seats ADD CONSTRAINT reservation_seats_reservation_id_schedule_id_fkey
    FOREIGN KEY (reservation_id, schedule_id) REFERENCES booking.reservations (id, schedule_id);
DROP INDEX booking.reservations_schedule_idx;

CREATE UNIQUE INDEX reservations_user_idempotency_key_all ON booking.reservations (user_id, idempotency_key);
DROP INDEX booking.reservations_user_idempotency_key;
ALTER INDEX booking.reservations_user_idempotency_key_all RENAME TO reservations_user_idempotency_key;
DROP INDEX booking.reservations_user_idx;

ALTER TABLE booking.outbox DROP CONSTRAINT outbox_event_id_key;
ALTER TABLE booking.outbox DROP CONSTRAINT outbox_pkey;
