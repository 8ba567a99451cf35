# shellcheck shell=bash
# The machine's ceilings that every benchmark here prints its figures next to (docs/performance.md, "Reproduce"),
# measured one way for all of them so that a figure of one script can be set beside another's: wrk on a
# marquee's GET /healthz (HTTP), pgbench's single-row UPDATE of a random account (PostgreSQL's commit path, what
# a purchase stands on) and select-only, and redis-benchmark unpipelined (Redis). Also the scratch databases
# pgbench measures in, dropped when the script ends. Sourced after scripts/lib/services.sh (MQ_PG_BIN, and
# MARQUEE_DATABASE_URL from .local/env) by scripts/bench, bench-admission, bench-join-burst, bench-sell-out,
# bench-hot-seats, bench-idempotent-hold, bench-ticket-limit and fans. The measuring functions print the tool's
# own report on stdout (the scripts keep it as they always did, e.g. .local/bench/wrk-healthz.txt); wrk_rps,
# pgbench_tps and redis_ops read the figure out of such a report.
set -euo pipefail

# Scratch databases created by this run (scratch_database), dropped by drop_scratch_databases.
MQ_SCRATCH_DBS=()

# scratch_database VAR NAME: creates database NAME beside MARQUEE_DATABASE_URL's (same server and role) and sets
# VAR to its URL. The script's EXIT trap must call drop_scratch_databases: bash runs it on an error (set -e),
# on Ctrl-C and on TERM as well, so no pgbench tables are left behind in the developer's PostgreSQL.
scratch_database() {
  local -n url_out=$1
  "$MQ_PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -d "$MARQUEE_DATABASE_URL" -c "CREATE DATABASE $2" >/dev/null
  MQ_SCRATCH_DBS+=("$2")
  # shellcheck disable=SC2034 # a nameref: this sets the caller's variable
  url_out=${MARQUEE_DATABASE_URL%/*}/$2
}

# drop_scratch_databases: drops every database scratch_database made, WITH (FORCE) because a pgbench
# interrupted by Ctrl-C may still hold a connection. Never fails (it runs from traps); safe to call twice.
drop_scratch_databases() {
  local db
  for db in "${MQ_SCRATCH_DBS[@]}"; do
    "$MQ_PG_BIN/psql" -q -X -d "$MARQUEE_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
      >/dev/null 2>&1 || true
  done
  MQ_SCRATCH_DBS=()
}

# pgbench_update_tables URL SCALE INIT_LOG SQL_FILE: pgbench's tables at SCALE (100,000 accounts each) in the
# database URL (pgbench -i's output in INIT_LOG), and SQL_FILE: the single-row UPDATE of a random account that
# ceiling_pg_update runs. One row per transaction, no contention to speak of: the commit path alone.
pgbench_update_tables() {
  local url=$1 scale=$2 init_log=$3 sql_file=$4
  pgbench -i -q -s "$scale" "$url" >"$init_log" 2>&1
  printf '\\set aid random(1, %d)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n' \
    $((scale * 100000)) >"$sql_file"
}

# pgbench_report URL CLIENTS SECONDS [PGBENCH_ARGS...]: pgbench for SECONDS with CLIENTS clients on two threads
# (one for one client, as pgbench would make it anyway), no vacuum first; its report on stdout.
pgbench_report() {
  local url=$1 clients=$2 seconds=$3
  shift 3
  pgbench -n -c "$clients" -j "$((clients < 2 ? 1 : 2))" -T "$seconds" "$@" "$url" 2>&1
}

# ceiling_pg_update URL CLIENTS SECONDS SQL_FILE: PostgreSQL's single-row UPDATE TPS (pgbench's report on
# stdout; the SQL_FILE of pgbench_update_tables).
ceiling_pg_update() { pgbench_report "$1" "$2" "$3" -f "$4"; }

# ceiling_pg_select URL CLIENTS SECONDS: PostgreSQL's select-only TPS (pgbench -S; its report on stdout).
ceiling_pg_select() { pgbench_report "$1" "$2" "$3" -S; }

# The readers (pgbench_tps, pgbench_latency_ms, wrk_rps, redis_ops) take the first figure of a report and read on
# to its end: one that stopped early could end the measuring command with SIGPIPE in a pipeline
# (`ceiling_pg_update ... | pgbench_tps`), and pipefail would end the script.

# pgbench_tps [FILE]: the TPS of a pgbench report (FILE, or stdin); nothing if the run printed none.
pgbench_tps() { awk '/^tps = / && !done {print $3; done = 1}' "${1:--}"; }

# pgbench_latency_ms [FILE]: the average latency (ms) of a pgbench report (FILE, or stdin).
pgbench_latency_ms() { awk '/^latency average = / && !done {print $4; done = 1}' "${1:--}"; }

# pgbench_step_tsv URL OUT SECONDS LIKE NAME SQL_FILE CLIENTS: one step of a benchmark of SQL functions against
# the UPDATE ceiling in the same database (scripts/bench-ticket-limit, bench-idempotent-hold): pgbench runs
# SQL_FILE with CLIENTS clients for SECONDS (report in OUT/NAME.txt), pg_stat_statements zeroed before, and
# prints the TSV row `NAME CLIENTS TPS LATENCY_MS BUFFERS`, BUFFERS being the shared buffers per top-level call
# of the statements LIKE the pattern (nested statements included; `-` when none ran).
pgbench_step_tsv() {
  local url=$1 out=$2 seconds=$3 like=$4 name=$5 sql_file=$6 clients=$7
  local psql=("$MQ_PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -d "$url")
  "${psql[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
  pgbench_report "$url" "$clients" "$seconds" -f "$sql_file" >"$out/$name.txt"
  local tps lat buffers
  tps=$(pgbench_tps "$out/$name.txt")
  lat=$(pgbench_latency_ms "$out/$name.txt")
  buffers=$("${psql[@]}" -At -v like="$like" <<'SQL'
SELECT round(sum(shared_blks_hit + shared_blks_read)::numeric / nullif(sum(calls), 0), 1)
  FROM pg_stat_statements WHERE toplevel AND query LIKE :'like';
SQL
  )
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$clients" "$tps" "$lat" "${buffers:--}"
}

# wrk_report URL CONNECTIONS SECONDS [WRK_ARGS...]: wrk GETs of URL on two threads; its report on stdout.
wrk_report() {
  local url=$1 connections=$2 seconds=$3
  shift 3
  wrk -t2 -c"$connections" -d"${seconds}s" "$@" "$url"
}

# ceiling_healthz BASE CONNECTIONS SECONDS [WRK_ARGS...]: the HTTP ceiling of the marquee at BASE, wrk on
# GET /healthz (it touches no dependency: the server's own request path and nothing else); wrk's report on stdout.
ceiling_healthz() {
  local base=$1
  shift
  wrk_report "$base/healthz" "$@"
}

# wrk_rps [FILE]: the requests/s of a wrk report (FILE, or stdin).
wrk_rps() { awk '/Requests\/sec:/ && !done {print $2; done = 1}' "${1:--}"; }

# ceiling_redis PORT CLIENTS REQUESTS TESTS: redis-benchmark's TESTS (e.g. set,get) against the Redis on
# 127.0.0.1:PORT, CLIENTS clients, unpipelined (one command per round trip, as marquee sends them); its CSV on
# stdout.
ceiling_redis() {
  redis-benchmark -h 127.0.0.1 -p "$1" -c "$2" -n "$3" -t "$4" -P 1 --csv
}

# redis_ops TEST [FILE]: the requests/s of TEST (SET, GET) in redis-benchmark's CSV (FILE, or stdin).
redis_ops() { awk -F'"' -v test="$1" '$2 == test && !done {print $4; done = 1}' "${2:--}"; }
