-- Reservations (좌석 임시 예약), their seats and the outbox, as docs/erd.md's booking section defines them.
-- Invariant 1 lives here: reservation_seats_one_live_per_seat refuses a second live (HELD or SOLD) row for a
-- seat of a schedule, whatever the Redis locks did. Hold expiry uses the database clock only: a HELD row with
-- expires_at <= now() is expired on read, in every statement.

CREATE TABLE booking.reservations (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL,           -- auth.users
    schedule_id    bigint      NOT NULL,           -- catalog.schedules
    queue_token_id uuid        NOT NULL,           -- the ACTIVE token that allowed the hold
    state          text        NOT NULL DEFAULT 'HELD'
                               CHECK (state IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED')),
    seat_count     smallint    NOT NULL CHECK (seat_count BETWEEN 1 AND 4),
    total_price    bigint      NOT NULL CHECK (total_price > 0),   -- sum of the seats' prices at hold time
    expires_at     timestamptz NOT NULL,           -- now() + hold TTL (5 min), database clock
    payment_id     uuid,                           -- payment.payments, set on confirm
    created_at     timestamptz NOT NULL DEFAULT now(),
    confirmed_at   timestamptz,
    ended_at       timestamptz,                    -- EXPIRED or CANCELLED
    UNIQUE (id, schedule_id),                      -- target of reservation_seats' composite foreign key
    CHECK (expires_at > created_at),
    CHECK ((state = 'CONFIRMED') = (confirmed_at IS NOT NULL AND payment_id IS NOT NULL)),
    CHECK ((state IN ('EXPIRED', 'CANCELLED')) = (ended_at IS NOT NULL))
);
CREATE INDEX reservations_due_idx  ON booking.reservations (expires_at) WHERE state = 'HELD';  -- the sweeper
CREATE INDEX reservations_user_idx ON booking.reservations (user_id, created_at DESC);        -- ?mine

CREATE TABLE booking.reservation_seats (
    reservation_id uuid   NOT NULL,
    seat_id        bigint NOT NULL,                -- catalog.seats
    schedule_id    bigint NOT NULL,
    zone_id        bigint NOT NULL,                -- catalog.zones
    price          bigint NOT NULL CHECK (price > 0),
    state          text   NOT NULL DEFAULT 'HELD' CHECK (state IN ('HELD', 'SOLD', 'RELEASED')),
    PRIMARY KEY (reservation_id, seat_id),
    FOREIGN KEY (reservation_id, schedule_id) REFERENCES booking.reservations (id, schedule_id)
);
-- Invariant 1, enforced by PostgreSQL itself: at most one live (HELD or SOLD) row per seat of a schedule.
-- This index, not the Redis lock, is what refuses a double sale.
CREATE UNIQUE INDEX reservation_seats_one_live_per_seat
    ON booking.reservation_seats (schedule_id, seat_id) WHERE state IN ('HELD', 'SOLD');

CREATE TABLE booking.outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),   -- sent as Nats-Msg-Id
    event_type   text        NOT NULL CHECK (event_type IN ('reservation.held', 'reservation.expired',
                                                            'reservation.confirmed', 'reservation.cancelled')),
    aggregate_id uuid        NOT NULL,             -- reservation id
    payload      jsonb       NOT NULL,
    traceparent  text,                             -- W3C trace context of the request that caused it
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz                       -- set after JetStream acknowledged the publish
);
CREATE INDEX outbox_unpublished_idx ON booking.outbox (id) WHERE published_at IS NULL;
