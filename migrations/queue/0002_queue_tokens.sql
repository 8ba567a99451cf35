-- The audit copy of every QueueToken (대기열 토큰). The live state is in Redis; the admission scheduler
-- writes this table behind it in batches, with an upsert that only moves a row forward
-- (WAITING < ACTIVE < USED | EXPIRED), so late, repeated or concurrent writes are harmless.
CREATE TABLE queue.queue_tokens (
    id          uuid        PRIMARY KEY,           -- the token itself: a UUIDv4, 122 random bits (RAND_bytes)
    user_id     uuid        NOT NULL,              -- auth.users
    schedule_id bigint      NOT NULL,              -- catalog.schedules
    state       text        NOT NULL CHECK (state IN ('WAITING', 'ACTIVE', 'USED', 'EXPIRED')),
    position    bigint      NOT NULL CHECK (position > 0),   -- arrival number in this schedule's queue
    issued_at   timestamptz NOT NULL,
    admitted_at timestamptz,                       -- WAITING -> ACTIVE
    expires_at  timestamptz,                       -- ACTIVE idle expiry as of the last recorded change
    ended_at    timestamptz,                       -- USED or EXPIRED
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_tokens_schedule_user_idx ON queue.queue_tokens (schedule_id, user_id);
