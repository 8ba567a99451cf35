-- A top-up's two statements keep one plan each for the connection (issue 15; booking/0012 says why;
-- docs/decisions/0034-purchase-statements-keep-their-plans.md).
ALTER FUNCTION wallet.begin_charge(uuid, text, bytea, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION wallet.settle_charge(uuid, text, text, text) SET plan_cache_mode = force_generic_plan;
