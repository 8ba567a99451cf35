-- pgbench: the figures of schedule 990000001 as GET .../stats reads them (ADR 0027; docs/performance.md, "Issue 17").
SELECT count(*) FILTER (WHERE state = 'PRE_QUEUE'), count(*) FILTER (WHERE admitted_at > now() - interval '1 minute'),
       count(*) FILTER (WHERE admitted_at IS NOT NULL), count(*) FILTER (WHERE state = 'EXPIRED' AND admitted_at IS NULL),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM admitted_at - issued_at)) FILTER (WHERE admitted_at IS NOT NULL),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM admitted_at - issued_at)) FILTER (WHERE admitted_at IS NOT NULL)
  FROM queue.queue_tokens WHERE schedule_id = 990000001;
SELECT * FROM booking.sale_counts(990000001);
