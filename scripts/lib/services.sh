# shellcheck shell=bash
# Local PostgreSQL 15, Redis 7, NATS JetStream (and the PG simulator once it is built) for development and
# tests, sourced by scripts/dev and scripts/test. Everything runs from Debian packages on 127.0.0.1, on free
# ports, with all state under the git-ignored .local/ of the repo; the system services are never touched.
#
#   .local/env    the generated settings (`export MARQUEE_...=...`), read by the app, the tests and people
#   .local/run    <name>.pid and <name>.port of every process we started; the only record `down` trusts
#   .local/logs   one log per process
#   .local/pg .local/redis .local/nats    data
#
# A service whose pid file names a live process of the right program that answers on its recorded port is
# reused, so `services`, `up` and `test` can be run again and again without restarting anything.
set -euo pipefail

MQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MQ_LOCAL=$MQ_ROOT/.local
MQ_RUN=$MQ_LOCAL/run
MQ_LOGS=$MQ_LOCAL/logs
MQ_ENV_FILE=$MQ_LOCAL/env
MQ_BUILD=${MARQUEE_BUILD_DIR:-$MQ_ROOT/build}
MQ_PG_BIN=/usr/lib/postgresql/15/bin
MQ_PGSIM_BIN=$MQ_BUILD/src/pg_sim/pg-sim
# Seconds any one process may take to come up or to stop before we give up on it.
MQ_WAIT_SECONDS=${MQ_WAIT_SECONDS:-30}
# Ports handed out in this run, so two services started together never get the same one.
MQ_CLAIMED_PORTS=()
# Services this run started (not reused): what `test` and `up` stop when they end.
MQ_STARTED=()

log() { printf '[dev] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# The lock that keeps two concurrent `services`/`down` (other shells, IDE test runs) from starting the same
# service twice. Held on fd 9; every long-lived process we spawn gets `9>&-` so it does not inherit the lock.
take_lock() {
  mkdir -p "$MQ_RUN" "$MQ_LOGS"
  exec 9>"$MQ_RUN/lock"
  flock -w 120 9 || die "another scripts/dev is busy with $MQ_LOCAL for over 120 s ($MQ_RUN/lock)"
}
release_lock() { exec 9>&-; }

# free_port VAR [WANTED]: sets VAR to a port nobody listens on at 127.0.0.1, chosen at random below the
# kernel's ephemeral range (so outgoing connections never take it) and never one already handed out in this run.
# WANTED, when given and nobody listens there, is taken as it is: scripts/faults restarts a killed service
# where its clients expect it (MQ_WANT_PORT_REDIS, MQ_WANT_PORT_NATS, MQ_WANT_PORT_POSTGRES).
free_port() {
  local -n port_out=$1
  local found
  if [[ -n ${2:-} ]] && ! is_port_open "$2"; then
    MQ_CLAIMED_PORTS+=("$2")
    port_out=$2
    return 0
  fi
  found=$(python3 - "${MQ_CLAIMED_PORTS[@]}" <<'PY'
import random, socket, sys
claimed = {int(p) for p in sys.argv[1:]}
for _ in range(500):
    port = random.randrange(20000, 32768)
    if port in claimed:
        continue
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    sys.exit(0)
sys.exit(1)
PY
  ) || die "found no free port on 127.0.0.1 between 20000 and 32767"
  MQ_CLAIMED_PORTS+=("$found")
  # shellcheck disable=SC2034 # a nameref: this sets the caller's variable
  port_out=$found
}

# is_port_free PORT: nobody listens on 127.0.0.1:PORT.
is_port_free() {
  python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# is_port_open PORT: something accepts connections on 127.0.0.1:PORT.
is_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for WHAT LOGFILE COMMAND...: runs COMMAND until it succeeds, for at most MQ_WAIT_SECONDS.
wait_for() {
  local what=$1 logfile=$2
  shift 2
  local deadline=$((SECONDS + MQ_WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what did not become ready within ${MQ_WAIT_SECONDS} s; last lines of $logfile:"
      tail -n 20 "$logfile" >&2 2>/dev/null || true
      die "$what did not start: see $logfile"
    fi
    sleep 0.2
  done
}

# The program each service runs, so a pid file naming a pid the kernel has since reused is not trusted.
service_program() {
  case $1 in
    postgres) echo postgres ;;
    redis) echo redis-server ;;
    nats) echo nats-server ;;
    pg-sim | marquee) echo "$1" ;;
    *) die "unknown service $1" ;;
  esac
}

service_pid() { cat "$MQ_RUN/$1.pid" 2>/dev/null || true; }
service_port() { cat "$MQ_RUN/$1.port" 2>/dev/null || true; }

# pid_alive PID: PID runs and is not a zombie (an exited child of init that init has not reaped yet:
# some container inits reap only every second or so).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# is_running NAME: the pid file names a live process of NAME's program: the program itself or, for a
# script, its interpreter followed by it (/proc/PID/cmdline, NUL-separated).
is_running() {
  local pid program arg
  pid=$(service_pid "$1")
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 1
  program=$(service_program "$1")
  while IFS= read -r -d '' arg; do
    [[ ${arg##*/} == "$program" || ${arg%% *} == "$program" ]] && return 0
  done < <(head -z -n 2 "/proc/$pid/cmdline" 2>/dev/null)
  return 1
}

# is_answering NAME: NAME accepts requests on its recorded port.
is_answering() {
  local port
  port=$(service_port "$1")
  [[ -n $port ]] || return 1
  case $1 in
    postgres) "$MQ_PG_BIN/pg_isready" -q -U postgres -h 127.0.0.1 -p "$port" -t 2 ;;
    redis) [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] ;;
    nats) nats_healthy "$(service_port nats-monitor)" ;;
    *) is_port_open "$port" ;;
  esac
}

nats_healthy() {
  [[ -n $1 ]] && curl -fsS -m 2 "http://127.0.0.1:$1/healthz?js-enabled-only=true" 2>/dev/null | grep -q '"ok"'
}

# reusable NAME: true if NAME from an earlier run can be used as it is; otherwise clears what is left of it.
reusable() {
  if is_running "$1" && is_answering "$1"; then
    log "$1 already running on 127.0.0.1:$(service_port "$1") (pid $(service_pid "$1")), reusing it"
    return 0
  fi
  stop_service "$1"
  return 1
}

# stop_service NAME [SIGNAL]: stops what NAME's pid file names (SIGNAL, default TERM; KILL after
# MQ_WAIT_SECONDS) and forgets it. Does nothing if it is not running: safe to call twice.
stop_service() {
  local name=$1 signal=${2:-TERM} pid
  pid=$(service_pid "$name")
  if is_running "$name"; then
    log "stopping $name (pid $pid)"
    kill "-$signal" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + MQ_WAIT_SECONDS))
    while pid_alive "$pid"; do
      if ((SECONDS >= deadline)); then
        log "$name (pid $pid) ignored SIG$signal for ${MQ_WAIT_SECONDS} s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$MQ_RUN/$name.pid" "$MQ_RUN/$name.port"
  if [[ $name == nats ]]; then rm -f "$MQ_RUN/nats-monitor.port"; fi
}

# spawned NAME: NAME's process exists (maybe not ready yet); from now on this run stops it when it ends.
spawned() { MQ_STARTED+=("$1"); }

started() {
  log "$1 ready on 127.0.0.1:$(service_port "$1") (pid $(service_pid "$1"), log $MQ_LOGS/$1.log)"
}

# as_postgres COMMAND...: initdb and postgres refuse to run as root, so as root they run as the `postgres`
# user of the Debian package (from /, since it may not be allowed into the current folder); as anyone
# else they run as that user.
as_postgres() {
  if ((EUID == 0)); then
    (cd / && exec runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The PostgreSQL data folder, created on first use. Usually .local/pg itself. But CI may clone the repo
# below a folder the postgres user cannot traverse (/root is 0700), and the server must read its own data
# folder: then the data lives in a private mktemp folder under /tmp owned by postgres, and .local/pg is a
# symlink to it, so the state is still found from the repo (and `dev clean` removes both). Prints the real
# path: postgres could not follow the symlink itself.
postgres_data_dir() {
  local dir=$MQ_LOCAL/pg
  if [[ -L $dir && ! -d $dir ]]; then
    log "$dir points to $(readlink "$dir"), which is gone (a /tmp cleanup?); starting with an empty database"
    rm -f "$dir"
  fi
  if [[ ! -e $dir ]]; then
    if ((EUID == 0)) && ! runuser -u postgres -- test -x "$MQ_LOCAL"; then
      local real
      real=$(mktemp -d /tmp/marquee-pg.XXXXXX)
      chown postgres: "$real"
      chmod 700 "$real"
      ln -s "$real" "$dir"
      log "the postgres user cannot reach $MQ_LOCAL; keeping the database in $real ($dir links to it)"
    else
      mkdir -m 700 "$dir"
      if ((EUID == 0)); then chown postgres: "$dir"; fi
    fi
  fi
  readlink -f "$dir"
}

start_postgres() {
  reusable postgres && return 0
  local data port logfile=$MQ_LOGS/postgres.log
  data=$(postgres_data_dir)
  if [[ ! -f $data/PG_VERSION ]]; then
    log "initialising a new PostgreSQL cluster in $data"
    # A half-made cluster (initdb interrupted) is useless: start again from an empty folder.
    find "$data/" -mindepth 1 -delete
    as_postgres "$MQ_PG_BIN/initdb" -D "$data" --auth=trust -U postgres --encoding=UTF8 --locale=C \
      >>"$logfile" 2>&1 || die "initdb failed: see $logfile"
  fi
  free_port port "${MQ_WANT_PORT_POSTGRES:-}"
  # No Unix socket (unix_socket_directories=''): everything, psql included, connects over TCP 127.0.0.1.
  # Sized for a 2-core dev box; fsync stays on so a crash of the box does not corrupt the dev database.
  local options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=''"
  options+=" -c max_connections=200 -c shared_buffers=256MB"
  # WAL at PostgreSQL's defaults (synchronous_commit on, fdatasync, commit_delay 0, wal_buffers auto): group
  # commit by commit_delay, a busier WAL writer and a larger marquee pool were paired against them and lost
  # (ADR 0050).
  # Statement statistics, nested statements inside SQL functions included (scripts/bench prints the top ones;
  # docs/performance.md). Its cost per statement is a few hash updates.
  options+=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
  options+=" -c pg_stat_statements.max=5000 -c track_io_timing=on"
  # pg_ctl puts the server in its own session (Ctrl-C in the terminal does not reach it); its output goes to
  # a log that this shell opens, because the postgres user may not be able to open files under .local.
  local status=0
  as_postgres "$MQ_PG_BIN/pg_ctl" start -D "$data" -w -t "$MQ_WAIT_SECONDS" -o "$options" \
    >>"$logfile" 2>&1 9>&- || status=$?
  # Recorded even when pg_ctl gave up waiting: a server that is still starting must not be left behind.
  if [[ -f $data/postmaster.pid ]]; then head -n 1 "$data/postmaster.pid" >"$MQ_RUN/postgres.pid"; fi
  echo "$port" >"$MQ_RUN/postgres.port"
  spawned postgres
  ((status == 0)) || die "PostgreSQL did not start: see $logfile"
  wait_for "PostgreSQL on port $port" "$logfile" "$MQ_PG_BIN/pg_isready" -q -U postgres -h 127.0.0.1 -p "$port"
  "$MQ_PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres >>"$logfile" 2>&1 <<'SQL' ||
SELECT 'CREATE ROLE marquee LOGIN SUPERUSER'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'marquee') \gexec
SELECT 'CREATE DATABASE marquee OWNER marquee'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'marquee') \gexec
\c marquee
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
    die "could not create the marquee role and database: see $logfile"
  started postgres
}

start_redis() {
  reusable redis && return 0
  local port logfile=$MQ_LOGS/redis.log
  mkdir -p "$MQ_LOCAL/redis"
  free_port port "${MQ_WANT_PORT_REDIS:-}"
  echo "$port" >"$MQ_RUN/redis.port"
  # No snapshots; an append-only file fsynced every second (ADR 0022), so a restarted Redis comes back with
  # the waiting room (at most the last second lost, which the queue rebuilds from PostgreSQL).
  # MARQUEE_REDIS_AOF=no: no AOF, a restart starts empty (what the rebuild alone must survive).
  local aof=(--appendonly yes --appendfsync everysec)
  [[ ${MARQUEE_REDIS_AOF:-yes} == no ]] && aof=(--appendonly no)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$MQ_LOCAL/redis" --daemonize yes \
    --pidfile "$MQ_RUN/redis.pid" --logfile "$logfile" --save '' "${aof[@]}" 9>&- ||
    die "redis-server did not start: see $logfile"
  spawned redis
  wait_for "Redis on port $port" "$logfile" is_redis_up "$port"
  started redis
}

is_redis_up() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]] && is_running redis; }

start_nats() {
  reusable nats && return 0
  local port monitor logfile=$MQ_LOGS/nats.log
  mkdir -p "$MQ_LOCAL/nats"
  free_port port "${MQ_WANT_PORT_NATS:-}"
  free_port monitor
  echo "$port" >"$MQ_RUN/nats.port"
  echo "$monitor" >"$MQ_RUN/nats-monitor.port"
  # setsid: its own session, so Ctrl-C on `dev up` reaches only marquee; we stop nats ourselves, in order.
  # Its own log goes to -l; stdout/stderr (a panic, say) are appended to the same file.
  # shellcheck disable=SC2094 # both only append to the log; nothing reads it
  setsid nats-server -js -sd "$MQ_LOCAL/nats" -a 127.0.0.1 -p "$port" -m "$monitor" \
    -P "$MQ_RUN/nats.pid" -l "$logfile" </dev/null >>"$logfile" 2>&1 9>&- &
  # setsid does not fork here (a background job is no process-group leader), so $! is nats-server itself;
  # nats rewrites the same pid file once it runs.
  echo $! >"$MQ_RUN/nats.pid"
  spawned nats
  wait_for "NATS on port $port" "$logfile" nats_healthy "$monitor"
  started nats
}

# The PostgreSQL-protocol simulator arrives with a later issue: started only once it has been built, and
# restarted when the binary is newer than the running process.
start_pgsim() {
  if [[ ! -x $MQ_PGSIM_BIN ]]; then
    stop_service pg-sim
    return 0
  fi
  # Restarted when the binary it runs from was rebuilt since; one started from another build directory (a
  # helper's, a sanitizer build) is reused while it answers, not replaced under whoever is using it.
  local running_bin
  running_bin=$(cat "$MQ_RUN/pg-sim.bin" 2>/dev/null || true)
  if [[ (-z $running_bin || $running_bin == "$MQ_PGSIM_BIN") && $MQ_PGSIM_BIN -nt $MQ_RUN/pg-sim.pid ]]; then
    stop_service pg-sim
  else
    reusable pg-sim && return 0
  fi
  local port logfile=$MQ_LOGS/pg-sim.log
  free_port port
  echo "$port" >"$MQ_RUN/pg-sim.port"
  setsid "$MQ_PGSIM_BIN" --port="$port" </dev/null >>"$logfile" 2>&1 9>&- &
  echo $! >"$MQ_RUN/pg-sim.pid"
  echo "$MQ_PGSIM_BIN" >"$MQ_RUN/pg-sim.bin"
  spawned pg-sim
  wait_for "pg-sim on port $port" "$logfile" is_answering pg-sim
  started pg-sim
}

# env_line NAME VALUE: one `export NAME=VALUE` line, single-quoted when VALUE holds anything unusual.
env_line() {
  if [[ $2 =~ ^[A-Za-z0-9_./:@%+=,-]*$ ]]; then
    printf 'export %s=%s\n' "$1" "$2"
  else
    printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
  fi
}

# ensure_jwt_keys: a local Ed25519 key pair for access tokens (auth signs, every service verifies), made
# once under .local/keys and kept, so tokens stay valid across restarts.
ensure_jwt_keys() {
  local dir=$MQ_LOCAL/keys
  mkdir -p "$dir"
  if [[ ! -s $dir/jwt-k1.pem || ! -s $dir/jwt-k1.pub.pem ]]; then
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/jwt-k1.pem") || die "cannot generate the JWT key"
    openssl pkey -in "$dir/jwt-k1.pem" -pubout -out "$dir/jwt-k1.pub.pem" || die "cannot write the JWT public key"
  fi
}

# write_env: writes .local/env from the running services (atomically: tests may be reading it).
write_env() {
  local pg redis nats http
  ensure_jwt_keys
  pg=$(service_port postgres)
  redis=$(service_port redis)
  nats=$(service_port nats)
  # Keep the HTTP port of the previous env file while it is free, so bookmarks and curl history still work.
  http=$(sed -n 's/^export MARQUEE_HTTP_PORT=//p' "$MQ_ENV_FILE" 2>/dev/null || true)
  if ! [[ $http =~ ^[0-9]+$ ]] || ! is_port_free "$http"; then free_port http; fi
  {
    echo "# Generated by scripts/dev (services, up, test) for the local services; do not edit."
    env_line MARQUEE_PG_PORT "$pg"
    env_line MARQUEE_REDIS_PORT "$redis"
    env_line MARQUEE_NATS_PORT "$nats"
    env_line MARQUEE_DATABASE_URL "postgresql://marquee@127.0.0.1:$pg/marquee"
    env_line MARQUEE_REDIS_URL "redis://127.0.0.1:$redis"
    env_line MARQUEE_NATS_URL "nats://127.0.0.1:$nats"
    env_line MARQUEE_HTTP_PORT "$http"
    env_line MARQUEE_MIGRATIONS_DIR "$MQ_ROOT/migrations"
    env_line MARQUEE_OPENAPI_PATH "$MQ_ROOT/api/openapi.yaml"
    env_line MARQUEE_WEB_DIR "$MQ_ROOT/web"
    env_line MARQUEE_JWT_PRIVATE_KEY_FILE "$MQ_LOCAL/keys/jwt-k1.pem"
    env_line MARQUEE_JWT_KEY_ID k1
    env_line MARQUEE_JWT_PUBLIC_KEYS "k1=$MQ_LOCAL/keys/jwt-k1.pub.pem"
    if is_running pg-sim; then
      env_line MARQUEE_PGSIM_URL "http://127.0.0.1:$(service_port pg-sim)"
      # What Marquee's payment-gateway client calls; in production this names the real gateway.
      env_line MARQUEE_PAYMENT_GATEWAY_URL "http://127.0.0.1:$(service_port pg-sim)"
    fi
  } >"$MQ_ENV_FILE.tmp"
  mv -f "$MQ_ENV_FILE.tmp" "$MQ_ENV_FILE"
}

# start_services: every data service up (reused where possible) and .local/env written and exported.
start_services() {
  take_lock
  start_postgres
  start_redis
  start_nats
  start_pgsim
  write_env
  release_lock
  load_env
}

load_env() {
  # Optional line: a value exported by an older env file must not outlive the service it named.
  unset MARQUEE_PGSIM_URL MARQUEE_PAYMENT_GATEWAY_URL
  # shellcheck source=/dev/null
  source "$MQ_ENV_FILE"
}

# stop_started: stops the services this run started, newest first; what it reused keeps running, and the
# env file then describes just that.
stop_started() {
  local i
  for ((i = ${#MQ_STARTED[@]} - 1; i >= 0; i--)); do
    stop_postgres_aware "${MQ_STARTED[i]}"
  done
  MQ_STARTED=()
  if is_running postgres || is_running redis || is_running nats; then
    write_env
  else
    rm -f "$MQ_ENV_FILE"
  fi
}

# PostgreSQL's TERM is a "smart" shutdown that waits for every client to leave; INT is the fast one.
stop_postgres_aware() {
  if [[ $1 == postgres ]]; then stop_service postgres INT; else stop_service "$1"; fi
}

# stop_all: stops everything .local/run knows about, marquee first, and removes the env file.
stop_all() {
  local name
  for name in marquee pg-sim nats redis postgres; do
    stop_postgres_aware "$name"
  done
  rm -f "$MQ_ENV_FILE"
}

# run_build: configures and builds build/ (Release, Ninja). Warnings are errors in CI (CI=true) and only
# there, set explicitly both ways so a CI-style run does not leave -Werror behind in the cache.
run_build() {
  local werror=OFF
  if [[ ${CI:-} == true ]]; then werror=ON; fi
  log "configuring and building $MQ_BUILD"
  cmake -S "$MQ_ROOT" -B "$MQ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMARQUEE_WERROR="$werror"
  cmake --build "$MQ_BUILD" -j"$(nproc)"
}

run_migrations() {
  local app=$MQ_BUILD/src/app/marquee
  [[ -x $app ]] || die "$app was not built"
  log "applying migrations from $MARQUEE_MIGRATIONS_DIR"
  "$app" --migrate-only
}
