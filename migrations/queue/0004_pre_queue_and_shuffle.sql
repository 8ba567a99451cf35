-- ADR 0026, a fair start: fans who join before the schedule's booking opens wait in a pre-queue (state
-- PRE_QUEUE), and at the opening their order is shuffled once. The shuffle is decided and recorded here,
-- PostgreSQL being the system of record: one row per schedule in queue.shuffles (its primary key lets exactly
-- one process win), and each pre-queued token's row gets its shuffled place in `position` while `arrival`
-- keeps its arrival number, so anyone with the secret can recompute the shuffle from these rows.
ALTER TABLE queue.queue_tokens DROP CONSTRAINT queue_tokens_state_check;
ALTER TABLE queue.queue_tokens ADD CONSTRAINT queue_tokens_state_check
    CHECK (state IN ('PRE_QUEUE', 'WAITING', 'ACTIVE', 'USED', 'EXPIRED'));
-- The arrival number of a token that was shuffled (NULL for every other token, whose `position` is it).
ALTER TABLE queue.queue_tokens ADD COLUMN arrival bigint CHECK (arrival > 0);

CREATE TABLE queue.shuffles (
    schedule_id bigint      PRIMARY KEY,            -- catalog.schedules; one shuffle per schedule, ever
    seed_sha256 text        NOT NULL,               -- hex SHA-256 of the seed HMAC-SHA256(secret, schedule)
    fans        integer     NOT NULL CHECK (fans >= 0),  -- pre-queued tokens it ordered
    shuffled_at timestamptz NOT NULL DEFAULT now()
);

-- ADR 0022's rebuild reads a schedule's live rows; pre-queued tokens are live too.
DROP INDEX queue.queue_tokens_live_idx;
CREATE INDEX queue_tokens_live_idx ON queue.queue_tokens (schedule_id, position)
    WHERE state IN ('PRE_QUEUE', 'WAITING', 'ACTIVE');
