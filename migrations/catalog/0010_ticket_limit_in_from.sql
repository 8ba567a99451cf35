-- Catalog's door for booking's ticket limit, callable in a FROM clause (issue 15;
-- docs/decisions/0047-fewer-probes-per-purchase.md). catalog.ticket_limit (catalog/0006) is a scalar SQL
-- function with a FROM clause, which PostgreSQL cannot inline: booking.hold evaluated it as a PL/pgSQL
-- expression, and each transaction parsed and planned its body again (fmgr_sql: 4.6 % of a purchase's
-- PostgreSQL CPU in a profile). A set-returning SQL function in a FROM clause is inlined into the caller's
-- statement, whose plan the caller keeps: booking.hold (booking/0014) reads the limit in the statement that
-- reads the requested seats. One primary-key probe; no row for an unknown schedule (a NULL limit, as before).
CREATE FUNCTION catalog.ticket_limit_of(p_schedule bigint) RETURNS TABLE (ticket_limit int)
LANGUAGE sql STABLE ROWS 1 AS $$
    SELECT sc.ticket_limit::int FROM catalog.schedules sc WHERE sc.id = p_schedule
$$;
