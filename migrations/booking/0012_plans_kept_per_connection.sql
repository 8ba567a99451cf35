-- The purchase path's functions keep one plan per statement for the connection instead of planning again on
-- every call (issue 15; docs/decisions/0034-purchase-statements-keep-their-plans.md).
--
-- PL/pgSQL caches each statement's plan, but under plan_cache_mode = auto it plans a statement again for
-- every call while its custom plans look cheaper than the generic one, and a statement that takes an array
-- (the requested seats, unnested by catalog.seats_for_hold) always looks cheaper with the real array than with
-- the generic estimate of ten elements. The sale measured the planning as most of a statement's cost:
-- booking.event_payload took 0.40 ms a call with custom plans and 0.10 ms with its generic ones, and 4
-- clients ran a confirm's outbox INSERT at 2,319 statements/s against 7,200/s.
--
-- Every lookup these functions make is an index probe by key whatever the plan (docs/decisions/0017), and
-- the db tests that count a hold's buffers force generic plans. The setting applies for the call, to the
-- functions called from it too (booking.confirm, wallet.lock, catalog.seats_for_hold, ...). A later
-- CREATE OR REPLACE of one of these functions drops it: PaymentDbTest.
-- ThePurchaseFunctionsKeepTheirPlansForTheConnection names each one. booking.hold_best (best available, off
-- the sale's seat-hold path) keeps plan_cache_mode = auto: its zone scan was measured with auto only.
ALTER FUNCTION booking.hold(uuid, bigint, uuid, bigint[], double precision, text, text, bytea)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION booking.event_payload(uuid, text) SET plan_cache_mode = force_generic_plan;
