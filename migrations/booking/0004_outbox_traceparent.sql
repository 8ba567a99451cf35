-- Outbox rows written inside SQL functions (booking.confirm, called by payment.finish) carry the trace of the
-- request that caused them, like the rows the store inserts itself: the caller names its W3C traceparent for
-- the current transaction with set_config('marquee.traceparent', <traceparent>, true), and the column's
-- default reads it. Without one the column stays NULL, and the consumer starts a new trace (ADR 0010).
-- The outbox relay forwards the column as the NATS `traceparent` header.
ALTER TABLE booking.outbox
    ALTER COLUMN traceparent SET DEFAULT nullif(current_setting('marquee.traceparent', true), '');
