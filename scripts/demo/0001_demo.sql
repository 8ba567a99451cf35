-- Demo data for `./scripts/dev up`, which runs every scripts/demo/*.sql in name order with psql
-- (ON_ERROR_STOP) after the migrations, as the marquee role, on every `up`: each file must be safe to
-- run again (INSERT ... ON CONFLICT DO NOTHING). Tests never see it: `./scripts/test` does not load it.
-- Placeholder: the demo catalog (concerts, schedules, seats) comes with the catalog issue.
SELECT 1;
