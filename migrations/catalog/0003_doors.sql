-- Catalog's door for the waiting room: queue refuses to open a queue for a schedule that does not exist
-- (docs/erd.md, "Functions across schemas").
CREATE FUNCTION catalog.schedule_exists(p_schedule bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM catalog.schedules WHERE id = p_schedule)
$$;
