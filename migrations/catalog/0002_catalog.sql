-- Concerts, schedules (회차), zones (좌석 등급, with prices) and seats: the catalog's definitions
-- (docs/erd.md). Seat status (AVAILABLE / HELD / SOLD) is deliberately NOT a column here: booking owns it
-- (booking.reservation_seats) and the catalog shows it from the availability bitset in Redis.

CREATE TABLE catalog.concerts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    artist      text        NOT NULL CHECK (char_length(artist) BETWEEN 1 AND 200),
    venue       text        NOT NULL CHECK (char_length(venue) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 5000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- cursor paging: WHERE id < $cursor ORDER BY id DESC LIMIT $n uses the primary key.

CREATE TABLE catalog.schedules (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    concert_id        bigint      NOT NULL REFERENCES catalog.concerts (id),
    starts_at         timestamptz NOT NULL,
    booking_opens_at  timestamptz NOT NULL,
    booking_closes_at timestamptz NOT NULL,
    seat_count        int         NOT NULL DEFAULT 0 CHECK (seat_count >= 0),
    layout_version    int         NOT NULL DEFAULT 1 CHECK (layout_version > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (booking_opens_at < booking_closes_at AND booking_closes_at <= starts_at)
);
CREATE INDEX schedules_concert_idx ON catalog.schedules (concert_id, starts_at, id);

CREATE TABLE catalog.zones (
    id          bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint   NOT NULL REFERENCES catalog.schedules (id),
    name        text     NOT NULL CHECK (char_length(name) BETWEEN 1 AND 20),   -- VIP, R, S, A ...
    price       bigint   NOT NULL CHECK (price >= 0),                          -- KRW, integer won
    color       text     NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    sort_order  smallint NOT NULL DEFAULT 0,
    UNIQUE (schedule_id, name),
    UNIQUE (id, schedule_id)                       -- target of the seats' composite foreign key
);

CREATE TABLE catalog.seats (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL REFERENCES catalog.schedules (id),
    zone_id     bigint NOT NULL,
    seat_index  int    NOT NULL CHECK (seat_index >= 0),    -- this seat's bit in the availability bitset
    row_label   text   NOT NULL CHECK (char_length(row_label) BETWEEN 1 AND 8),
    number      int    NOT NULL CHECK (number > 0),
    x           int    NOT NULL,
    y           int    NOT NULL,
    FOREIGN KEY (zone_id, schedule_id) REFERENCES catalog.zones (id, schedule_id),  -- zone of the same schedule
    UNIQUE (schedule_id, seat_index),
    UNIQUE (schedule_id, row_label, number)
);
CREATE INDEX seats_schedule_zone_idx ON catalog.seats (schedule_id, zone_id, seat_index);

-- The door booking uses (docs/erd.md, "Functions across schemas"): the requested seats that exist in that
-- schedule, with their zone's price and whether booking is open now (the database clock decides).
CREATE FUNCTION catalog.seats_for_hold(p_schedule_id bigint, p_seat_ids bigint[])
RETURNS TABLE (seat_id bigint, zone_id bigint, seat_index int, price bigint, booking_open boolean)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.zone_id, s.seat_index, z.price,
           now() >= sc.booking_opens_at AND now() < sc.booking_closes_at
      FROM catalog.seats s
      JOIN catalog.zones z ON z.id = s.zone_id
      JOIN catalog.schedules sc ON sc.id = s.schedule_id
     WHERE s.schedule_id = p_schedule_id AND s.id = ANY (p_seat_ids)
$$;
