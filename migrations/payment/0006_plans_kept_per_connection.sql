-- A payment's statements keep one plan each for the connection (issue 15; booking/0012 says why;
-- docs/decisions/0034-purchase-statements-keep-their-plans.md). payment.pay runs booking.confirm,
-- booking.event_payload, wallet.lock and wallet.debit_locked under the same setting.
ALTER FUNCTION payment.pay(uuid, uuid, bigint, uuid, text, bytea, text, bigint, text)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION payment.settle(uuid, text, text, text) SET plan_cache_mode = force_generic_plan;
