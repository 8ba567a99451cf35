-- pgbench: the single-row UPDATE ceiling (docs/performance.md, "Issue 17"); needs admin_bench_row (id int PRIMARY KEY, n bigint) with 1,000 rows.
\set id random(1, 1000)
UPDATE public.admin_bench_row SET n = n + 1 WHERE id = :id;
