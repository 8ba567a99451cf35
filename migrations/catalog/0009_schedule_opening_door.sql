-- Catalog's door for the waiting room's fair start (ADR 0026): when booking opens for a schedule, NULL when
-- there is no such schedule. Queue pre-queues the fans who join before that instant and shuffles them at it.
CREATE FUNCTION catalog.schedule_opens_at(p_schedule bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT booking_opens_at FROM catalog.schedules WHERE id = p_schedule
$$;
