-- pgbench: the controls poll with nothing changed (ADR 0027; docs/performance.md, "Issue 17").
SELECT schedule_id, paused, admits_per_minute, max_active, queue_everyone, sales_closed, hold_extension_seconds, pow_difficulty, version FROM queue.schedule_controls WHERE version > 1000000000 ORDER BY version;
