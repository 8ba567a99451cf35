"""The fault recipes' private stack and their HTTP client (scripts/faults, ADR 0030).

A `Stack` is one throwaway PostgreSQL, Redis, NATS and pg-sim under .local/faults/<recipe>/, started by the
same shell functions as `./scripts/dev services` (scripts/lib/services.sh: one definition of how the local
engines run), plus the Marquee processes a recipe starts, recorded by pid (proc.Processes). Everything a recipe
does to the engines (kill, pause, restart on the same port) and asks of them (SQL, pg-sim's books, NATS's
stream, Redis) goes through it. `Client` is one HTTP request with a deadline and what a recipe counts of its
answer; `Tally` is the answers of one phase.
"""

from __future__ import annotations

import base64
import glob
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

from .cluster_env import read_env
from .net import free_port, http_json
from .paths import BUILD, ROOT, StateDir
from .proc import Processes

FAULTS_HOME = ROOT / ".local" / "faults"
SERVICES_SH = ROOT / "scripts" / "lib" / "services.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "Faults-2026"


class RecipeError(RuntimeError):
    """The recipe itself could not go on (a setup step failed): the recipe fails with this message."""


def marquee_bin() -> Path:
    return BUILD / "src" / "app" / "marquee"


def pgsim_bin() -> Path:
    return BUILD / "src" / "pg_sim" / "pg-sim"


def say(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


def within(seconds: float, check: Callable[[], bool], every: float = 0.5) -> bool:
    """Calls `check` every `every` seconds until it is true (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


# ---------------------------------------------------------------------------------------------------------
# Small pure helpers (unit-tested)


def children_of(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The pids whose parent is `pid` (from /proc/<n>/stat)."""
    found = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return sorted(found)


def taken_seats(bitset_b64: str) -> list[int]:
    """The seat indexes set in an availability bitset (base64; bit i, most significant first, is seat i)."""
    try:
        raw = base64.b64decode(bitset_b64 or "", validate=False)
    except ValueError:
        return []
    return [i * 8 + b for i, byte in enumerate(raw) for b in range(8) if byte & (0x80 >> b)]


def jwt_iat(token: str) -> int:
    """The `iat` claim of a JWT (no verification: the recipes read the issuer's clock from it)."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return int(claims["iat"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0


def metric_sum(text: str, name: str) -> float:
    """The sum of the samples of `name` in a Prometheus text page: `name` exactly, or `name{...}` labels; a
    name with labels matches that exact series."""
    total = 0.0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and (parts[0] == name or parts[0].startswith(name + "{")):
            try:
                total += float(parts[1])
            except ValueError:
                pass
    return total


def metric_value(text: str, series: str) -> str:
    """The value of one exact series (`name{labels}`) as printed ('' when absent)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == series:
            return parts[1]
    return ""


def number(value: float) -> str:
    """A figure as awk prints a sum: integral values without a decimal point."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def asan_runtime(ldd_output: str) -> Optional[str]:
    """The AddressSanitizer runtime a dynamically linked program loads (from `ldd`), if it is sanitized."""
    for line in ldd_output.splitlines():
        name, _, rest = line.strip().partition(" => ")
        if name.startswith("libasan.so") and rest:
            path = rest.split(" (", 1)[0].strip()
            if path.startswith("/"):
                return path
    return None


def preload_for(binary: Path, libraries: Sequence[str]) -> str:
    """LD_PRELOAD for `libraries` in `binary`: a sanitized binary needs its ASan runtime first in the list
    ("ASan runtime does not come first in initial library list" otherwise), so it is put there."""
    try:
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        ldd = ""
    runtime = asan_runtime(ldd)
    return " ".join(([runtime] if runtime else []) + list(libraries))


def finish_uninterrupted(child: subprocess.Popen) -> int:
    """Waits for `child` even when SIGTERM or Ctrl-C arrives meanwhile, then re-raises that interruption.

    An engine start cut in the middle (killed between `pg_ctl start` and writing the pid file) would leave a
    server nobody records, so nobody stops: it is let finish (each engine has MQ_WAIT_SECONDS), and the
    caller's teardown then stops what it started.
    """
    interrupted: Optional[BaseException] = None
    while True:
        try:
            returncode = child.wait()
            break
        except BaseException as error:  # noqa: BLE001 -- SystemExit from SIGTERM, KeyboardInterrupt
            interrupted = interrupted or error
    if interrupted is not None:
        raise interrupted
    return returncode


def libfaketime() -> Path:
    for lib in sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")):
        return Path(lib)
    raise RecipeError("libfaketime is missing: ./scripts/setup-packages installs faketime")


# ---------------------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Answer:
    """One answer as a recipe counts it. status 0: no answer within the deadline (printed 000)."""

    status: int = 0
    body: bytes = b""
    retry_after: str = ""
    content_type: str = ""
    took: float = 0.0

    @property
    def code(self) -> str:
        return f"{self.status:03d}"

    @property
    def problem(self) -> bool:
        return self.content_type.startswith("application/problem+json")

    @property
    def good_503(self) -> bool:
        """503 with a numeric Retry-After and a problem+json body (RFC 9457)."""
        return self.status == 503 and self.retry_after.isdigit() and self.problem

    def field(self, name: str) -> str:
        """A top-level field of a JSON object body ('' when absent or not JSON)."""
        try:
            document = json.loads(self.body)
        except ValueError:
            return ""
        value = document.get(name) if isinstance(document, dict) else None
        return "" if value is None else str(value)


class Tally:
    """The answers of one phase of a recipe (thread-safe: its clients run in threads)."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def add(self, answer: Answer) -> Answer:
        with self._lock:
            self.answers.append(answer)
        return answer

    def __len__(self) -> int:
        return len(self.answers)

    def count(self, *statuses: int) -> int:
        return sum(1 for a in self.answers if a.status in statuses)

    def where(self, check: Callable[[Answer], bool]) -> int:
        return sum(1 for a in self.answers if check(a))

    def slowest_ms(self) -> int:
        return int(max((a.took for a in self.answers), default=0.0) * 1000)

    def statuses(self) -> str:
        """'N STATUS' pairs in status order, e.g. '3 201 12 503'."""
        counts: dict[str, int] = {}
        for answer in self.answers:
            counts[answer.code] = counts.get(answer.code, 0) + 1
        return " ".join(f"{n} {code}" for code, n in sorted(counts.items()))


class Client:
    """Requests to one Marquee on 127.0.0.1, each with a deadline (FAULTS_CURL_MAX_S: a hang is counted)."""

    def __init__(self, port: int, deadline_s: float) -> None:
        self.port = port
        self.deadline_s = deadline_s

    def request(self, method: str, path: str, body: Optional[object] = None, headers: Mapping[str, str] = {}) -> Answer:
        answer = Answer()
        sent = dict(headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        start = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.deadline_s)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            answer.body = response.read()
            answer.status = response.status
            answer.retry_after = response.getheader("Retry-After", "") or ""
            answer.content_type = response.getheader("Content-Type", "") or ""
        except (OSError, http.client.HTTPException):
            answer.status = 0
        finally:
            connection.close()
            answer.took = time.monotonic() - start
        return answer

    def get(self, path: str, token: str = "") -> Answer:
        return self.request("GET", path, headers=bearer(token))

    def events_until(self, path: str, token: str, marker: bytes, timeout_s: float) -> bool:
        """Follows a server-sent event stream until a line equal to `marker` arrives (True) or `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            connection.request("GET", path, headers=bearer(token))
            sock = connection.sock  # the response may take it over (an unbounded stream)
            response = connection.getresponse()
            if response.status != 200:
                return False
            while time.monotonic() < deadline:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                line = response.readline()
                if not line:
                    return False
                if line.strip() == marker:
                    return True
            return False
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Fan:
    """A signed-up fan; `queue` is their queue token once admitted, `reservation` their held reservation."""

    user: str
    token: str
    queue: str = ""
    reservation: str = ""


class Api:
    """The fan's side of Marquee's API, as the recipes use it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def fan(self, prefix: str) -> Fan:
        email = f"{prefix}-{random.randrange(10**9)}-{threading.get_ident() % 100000}@faults.test"
        signup = self.client.request(
            "POST", "/api/v1/auth/signup", {"email": email, "password": PASSWORD, "displayName": "Fault Fan"}
        )
        if signup.status != 201:
            raise RecipeError(f"signup answered {signup.code}: {signup.body.decode(errors='replace')}")
        login = self.client.request("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
        if login.status != 200:
            raise RecipeError(f"login answered {login.code}: {login.body.decode(errors='replace')}")
        token = login.field("accessToken")
        return Fan(self.client.get("/api/v1/auth/me", token).field("id"), token)

    def admit(self, fan: Fan, schedule_id: int) -> str:
        """Joins the waiting room and follows its event stream until admitted; sets and returns fan.queue."""
        joined = self.client.request("POST", f"/api/v1/schedules/{schedule_id}/queue", headers=bearer(fan.token))
        if joined.status not in (200, 201):
            raise RecipeError(f"queue join answered {joined.code}: {joined.body.decode(errors='replace')}")
        path = f"/api/v1/queue/me/events?scheduleId={schedule_id}"
        if not self.client.events_until(path, fan.token, b"event: admitted", 60):
            raise RecipeError(f"fan was not admitted to schedule {schedule_id} within 60 s")
        fan.queue = joined.field("token")
        return fan.queue

    def hold(self, fan: Fan, schedule_id: int, seat_id: str, queue: Optional[str] = None) -> Answer:
        """POST /api/v1/reservations for one seat; sets fan.reservation on 201."""
        answer = self.client.request(
            "POST",
            "/api/v1/reservations",
            {"scheduleId": schedule_id, "seatIds": [int(seat_id)]},
            {**bearer(fan.token), "X-Queue-Token": fan.queue if queue is None else queue},
        )
        if answer.status == 201:
            fan.reservation = answer.field("id")
        return answer

    def pay(self, fan: Fan, method: str = "CARD") -> Answer:
        """POST /api/v1/payments for the fan's reservation, keyed by it (a retry replays)."""
        return self.client.request(
            "POST",
            "/api/v1/payments",
            {"reservationId": fan.reservation, "method": method},
            {**bearer(fan.token), "X-Queue-Token": fan.queue, "Idempotency-Key": f"pay-{fan.reservation}"},
        )


class Clients:
    """Background clients of a recipe, as threads; `wait()` joins only them."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def start(self, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        self.threads.append(thread)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join()
        self.threads = []


# ---------------------------------------------------------------------------------------------------------
# The stack


class Stack:
    """The private engines of one recipe under .local/faults/<name>, and the Marquee processes it starts."""

    def __init__(self, name: str, home: Path = FAULTS_HOME) -> None:
        self.name = name
        self.state = StateDir(home / name)
        self.env: dict[str, str] = {}
        self.ports: dict[str, int] = {}
        self.stopped: list[int] = []
        self.procs: Optional[Processes] = None
        self.curl_max_s = float(os.environ.get("FAULTS_CURL_MAX_S", 15))

    @property
    def logs(self) -> Path:
        return self.state.logs

    # The engines, by services.sh ---------------------------------------------------------------------------

    def services(self, *command: str, extra_env: Mapping[str, str] = {}) -> None:
        """Runs services.sh functions (`command`, a shell line) against this stack's folder; their output is
        appended to logs/stack.log."""
        script = (
            'source "$1"; MQ_LOCAL=$2; MQ_RUN=$MQ_LOCAL/run; MQ_LOGS=$MQ_LOCAL/logs; MQ_ENV_FILE=$MQ_LOCAL/env; '
            "MQ_STARTED=(); MQ_CLAIMED_PORTS=(); " + " ".join(command)
        )
        self.state.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / "stack.log", "ab") as log:
            shell = subprocess.Popen(
                ["bash", "-c", script, "services", str(SERVICES_SH), str(self.state.base)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, **extra_env},
                start_new_session=True,
            )
        returncode = finish_uninterrupted(shell)
        if returncode != 0:
            raise RecipeError(f"{' '.join(command)} failed: see {self.logs / 'stack.log'}")

    def service_pid(self, name: str) -> int:
        try:
            return int((self.state.run / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def service_port(self, name: str) -> int:
        try:
            return int((self.state.run / f"{name}.port").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def _drop_database(self) -> None:
        pg = self.state.base / "pg"
        if pg.is_symlink() and os.readlink(pg).startswith("/tmp/marquee-pg."):
            shutil.rmtree(os.readlink(pg), ignore_errors=True)
            pg.unlink()
        shutil.rmtree(pg, ignore_errors=True)

    def up(self) -> None:
        """Fresh engines (what a previous run left is stopped and wiped), migrated, with the demo admin."""
        if self.state.run.is_dir():
            # A run that was killed outright (SIGKILL) left its Marquee processes and engines running.
            leftover = Processes(self.state)
            for record in leftover.records():
                leftover.stop(record.name, timeout=15)
            self.services("take_lock; stop_all; release_lock")
        self._drop_database()
        shutil.rmtree(self.state.base, ignore_errors=True)
        self.procs = Processes(self.state)
        self.services("start_services")
        self.load_env()
        if not self.env.get("MARQUEE_PGSIM_URL"):
            raise RecipeError(f"pg-sim did not start: build it (target pg-sim in {BUILD})")
        with open(self.logs / "stack.log", "ab") as log:
            if subprocess.run([str(marquee_bin()), "--migrate-only"], env=self.process_env(), stdout=log,
                              stderr=log, stdin=subprocess.DEVNULL).returncode != 0:
                raise RecipeError(f"migrations failed: see {self.logs / 'stack.log'}")
        self.sql_file(ROOT / "scripts" / "demo" / "0002_admin.sql")

    def load_env(self) -> None:
        self.env = read_env(self.state.base / "env")

    def process_env(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        """The caller's environment with this stack's settings (a pg-sim of another stack never leaks in)."""
        base = {k: v for k, v in os.environ.items() if k not in ("MARQUEE_PGSIM_URL", "MARQUEE_PAYMENT_GATEWAY_URL")}
        return {**base, **self.env, **extra}

    def down(self) -> None:
        """Stops every Marquee it started, lets paused processes go on, stops the engines; keeps the logs."""
        if self.procs is not None:
            for record in self.procs.records():
                self.procs.stop(record.name, timeout=15)
        self.resume()
        if self.state.run.is_dir():
            try:
                self.services("take_lock; stop_all; release_lock")
            except RecipeError:
                pass
        self._drop_database()

    def kill_engine(self, name: str) -> int:
        """kill -9 an engine (redis, nats); returns the port its clients use, to restart it there."""
        port = self.service_port(name)
        self.services(f"stop_service {name} KILL")
        return port

    def crash_postgres(self) -> int:
        """An immediate shutdown of PostgreSQL (SIGQUIT to the postmaster, what `pg_ctl stop -m immediate`
        sends): no checkpoint, WAL not yet written by anyone is gone, as in a crash. Returns the port its clients
        use, to restart it there."""
        port = self.service_port("postgres")
        self.services("stop_service postgres QUIT")
        return port

    def restart_engine(self, name: str, port: int) -> None:
        """Starts a killed Redis, NATS or PostgreSQL again on the port its clients still use (MQ_WANT_PORT_*)."""
        self.services(f"start_{name}", extra_env={f"MQ_WANT_PORT_{name.upper()}": str(port)})

    # Pausing -------------------------------------------------------------------------------------------------

    def pause(self, pids: Iterable[int]) -> None:
        """SIGSTOP to these pids (remembered: `resume` and `down` let them go on)."""
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
                self.stopped.append(pid)
            except ProcessLookupError:
                pass

    def pause_postgres(self) -> None:
        """SIGSTOP to the postmaster and every backend it forked."""
        main = self.service_pid("postgres")
        self.pause([main] + children_of(main))

    def resume(self) -> None:
        for pid in self.stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    # Marquee -------------------------------------------------------------------------------------------------

    def marquee(self, name: str, *args: str, env: Mapping[str, str] = {}) -> Api:
        """A Marquee on a free port (the same port as before for a name started again) with the stack's settings
        and `args`; returns once /healthz answers 200."""
        assert self.procs is not None
        if name not in self.ports:
            self.ports[name] = free_port(self.ports.values())
        port = self.ports[name]
        self.procs.spawn(name, [str(marquee_bin()), f"--port={port}", "--threads=2", *args],
                         ports={"http": port}, env=self.process_env(env))
        deadline, log = time.monotonic() + 30, self.procs.state.log_of(name)
        while self.api(name).client.get("/healthz").status != 200:
            if not self.procs.alive(name):
                raise RecipeError(f"marquee {name} exited at start: see {log}")
            if time.monotonic() >= deadline:
                raise RecipeError(f"marquee {name} did not answer /healthz within 30 s: see {log}")
            time.sleep(0.1)
        return self.api(name)

    def api(self, name: str) -> Api:
        return Api(Client(self.ports[name], self.curl_max_s))

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        """TERM (or `sig`: SIGKILL for a crash) to that Marquee; KILL after 15 s."""
        assert self.procs is not None
        self.procs.stop(name, timeout=15, sig=sig)

    def metric(self, name: str, series: str) -> float:
        return metric_sum(self.metrics(name), series)

    def metrics(self, name: str) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5) as response:
                return response.read().decode(errors="replace")
        except OSError:
            return ""

    # The engines' side ---------------------------------------------------------------------------------------

    def sql(self, text: str) -> str:
        """One value (or rows, |-separated) from the stack's database."""
        return self._psql("-c", text)

    def sql_file(self, path: Path) -> str:
        return self._psql("-f", str(path))

    def _psql(self, flag: str, what: str) -> str:
        done = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.env["MARQUEE_DATABASE_URL"], flag, what],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RecipeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.rstrip("\n")

    def sql_int(self, text: str) -> int:
        value = self.sql(text).strip()
        try:
            return int(float(value))
        except ValueError:
            return 0

    def pgsim_faults(self, faults: Mapping[str, object]) -> None:
        """PUT the simulator's faults (docs/pg-sim.md)."""
        request = urllib.request.Request(
            f"{self.env['MARQUEE_PGSIM_URL']}/v1/admin/faults",
            data=json.dumps(faults).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def pgsim_stats(self) -> dict:
        status, stats = http_json(f"{self.env['MARQUEE_PGSIM_URL']}/v1/admin/stats", timeout=5)
        if status != 200:
            raise RecipeError(f"pg-sim stats answered {status}")
        return stats

    def stream_messages(self) -> int:
        """Messages in every JetStream stream of the stack's NATS (its monitoring port)."""
        status, jsz = http_json(f"http://127.0.0.1:{self.service_port('nats-monitor')}/jsz?streams=true", timeout=5)
        if status != 200:
            return -1
        return sum(
            stream.get("state", {}).get("messages", 0)
            for account in jsz.get("account_details") or []
            for stream in account.get("stream_detail") or []
        )

    def redis(self, *command: str) -> str:
        done = subprocess.run(["redis-cli", "-u", self.env["MARQUEE_REDIS_URL"], *command],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return done.stdout.strip()

    def schedule(self, seats: int, price: int) -> int:
        """A concert with one schedule open for booking, `seats` seats at `price`; its id."""
        return int(self.sql(f"""
            WITH c AS (INSERT INTO catalog.concerts (title, artist, venue)
                       VALUES ('faults {random.randrange(32768)}', 'A', 'V') RETURNING id),
                 s AS (INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at,
                                                      seat_count)
                       SELECT id, now() + interval '30 days', now() - interval '1 day', now() + interval '29 days',
                              {seats}
                         FROM c RETURNING id),
                 z AS (INSERT INTO catalog.zones (schedule_id, name, price, color)
                       SELECT id, 'R', {price}, '#0000aa' FROM s RETURNING id, schedule_id),
                 seats AS (INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)
                           SELECT z.schedule_id, z.id, g, 'A', g + 1, g, 0 FROM z, generate_series(0, {seats} - 1) g)
            SELECT schedule_id FROM z"""))

    def seat(self, schedule_id: int, index: int) -> str:
        return self.sql(f"SELECT id FROM catalog.seats WHERE schedule_id = {schedule_id} AND seat_index = {index}")

    def seats(self, schedule_id: int, from_index: int = 0) -> list[str]:
        return self.sql(
            f"SELECT id FROM catalog.seats WHERE schedule_id = {schedule_id} AND seat_index >= {from_index}"
            " ORDER BY seat_index"
        ).split()

    def held_fans(self, api: Api, count: int, schedule_id: int) -> list[Fan]:
        """`count` fans admitted to the schedule, fan i holding seat i."""
        fans = []
        for i in range(count):
            fan = api.fan("held")
            api.admit(fan, schedule_id)
            held = api.hold(fan, schedule_id, self.seat(schedule_id, i))
            if held.status != 201:
                raise RecipeError(f"hold answered {held.code}: {held.body.decode(errors='replace')}")
            fans.append(fan)
        return fans
