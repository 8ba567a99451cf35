-- Outbox rows written inside payment.finish carry the trace of the request (or recovery run) that finished
-- the payment: the caller names its W3C traceparent for the transaction with
-- set_config('marquee.traceparent', <traceparent>, true), and the column's default reads it. Without one the
-- column stays NULL (ADR 0010). The outbox relay forwards the column as the NATS `traceparent` header.
ALTER TABLE payment.outbox
    ALTER COLUMN traceparent SET DEFAULT nullif(current_setting('marquee.traceparent', true), '');
