-- Operator controls per schedule (issue 17; docs/decisions/0027-operator-controls-and-sale-analytics.md).
-- PostgreSQL is their system of record; every queue, booking and payment process keeps a copy in memory and
-- reads the rows whose version is above the highest it has seen, once a second. A PATCH takes an advisory
-- lock before it draws its version, so versions commit in the order they are drawn and that poll misses none.
CREATE SEQUENCE queue.schedule_controls_version;

CREATE TABLE queue.schedule_controls (
    schedule_id            bigint      PRIMARY KEY,     -- catalog.schedules
    paused                 boolean     NOT NULL DEFAULT false,  -- admission stopped; fans stay WAITING
    admits_per_minute      integer     CHECK (admits_per_minute BETWEEN 1 AND 600000),  -- NULL: automatic
    max_active             integer     CHECK (max_active BETWEEN 1 AND 1000000),        -- NULL: automatic
    queue_everyone         boolean     NOT NULL DEFAULT false,
    sales_closed           boolean     NOT NULL DEFAULT false,  -- joins and holds answer 403 sales-closed
    hold_extension_seconds integer     NOT NULL DEFAULT 0 CHECK (hold_extension_seconds BETWEEN 0 AND 3600),
    pow_difficulty         integer     CHECK (pow_difficulty BETWEEN 0 AND 32),         -- NULL: the default
    version                bigint      NOT NULL,        -- queue.schedule_controls_version at the last change
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             uuid                         -- auth.users: the admin of the last change
);
CREATE INDEX schedule_controls_version_idx ON queue.schedule_controls (version);

-- One row per field an operator changed: who, when, the value before and after (JSON: a number, a boolean or
-- null). Written in the same transaction as the change.
CREATE TABLE queue.control_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint      NOT NULL,                   -- catalog.schedules
    at          timestamptz NOT NULL DEFAULT now(),
    actor       uuid        NOT NULL,                   -- auth.users
    field       text        NOT NULL,                   -- the API's name: paused, admitsPerMinute, ...
    before      jsonb       NOT NULL,
    after       jsonb       NOT NULL
);
CREATE INDEX control_audit_schedule_idx ON queue.control_audit (schedule_id, id DESC);
