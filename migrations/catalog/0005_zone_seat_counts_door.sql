-- Catalog's door for the waiting room's sold-out signal (ADR 0018): the seats of each zone of a schedule.
CREATE FUNCTION catalog.zone_seat_counts(p_schedule bigint)
RETURNS TABLE (zone_id bigint, name text, seats bigint)
LANGUAGE sql STABLE AS $$
    SELECT z.id, z.name, count(s.id)
      FROM catalog.zones z
      LEFT JOIN catalog.seats s ON s.schedule_id = z.schedule_id AND s.zone_id = z.id
     WHERE z.schedule_id = p_schedule
     GROUP BY z.id, z.name
$$;
