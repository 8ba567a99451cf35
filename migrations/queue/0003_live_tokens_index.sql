-- ADR 0022: when Redis comes back empty or behind, a schedule's waiting room is rebuilt from its WAITING and
-- ACTIVE rows in arrival order. This index finds exactly those rows (a small part of the table once a sale
-- is over) without reading the schedule's ended tokens.
CREATE INDEX queue_tokens_live_idx ON queue.queue_tokens (schedule_id, position)
    WHERE state IN ('WAITING', 'ACTIVE');
