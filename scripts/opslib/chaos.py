"""The chaos run of `scripts/cluster chaos` (issue 16, ADR 0023): a flash sale through the balancer while one
node at a time is killed and brought back, then what the fans saw and whether the sale held.

The hook: a component of scripts/cluster that can lose a node offers `failures() -> list[Failure]`. Each
Failure is a name, a `kill` (make the node fail: `kill -9`, SIGSTOP, a shutdown) and a `restore` (bring it
back and return once it serves again). The runner calls them in turn, mid-sale, one at a time:

    kill()            at t0
    sleep(down_s)     the node stays dead this long
    restore()         must return when the node is back (raise if it cannot be)
    recovered()       optional: polled until true (e.g. a promoted replica took over, the balancer marks the
                      replica UP again); the time from t0 is the table's "back after"

A component offers its failures like this (the replicas' are in marquee_replicas.py):

    def failures(self) -> list[Failure]:
        return [Failure(name="redis primary (kill -9)", component=self.name, node="redis-7000",
                        kill=lambda: self.procs.kill9("redis-7000"),
                        restore=lambda: self.restart("redis-7000"),
                        recovered=self.every_slot_served)]

What the fans saw comes from the balancer's log (one line per answer: time, status, method, server, path):
every 5xx answer and every request the balancer could not answer, answered between the kill and the next
failure, is charged to that failure, named by its route (hold, top-up, queue poll, ...).

At the end the run judges issue 16's pass conditions (CONDITIONS; `conditions()` prints one line each): seats
sold at most once and the sale complete, money (scripts/check-invariants, and pg-sim's books against
Marquee's), the outbox's events delivered and consumed (outbox_check.py), and the availability bitset against
booking.seat_states(). docs/decisions/0029-chaos-with-engine-kills-and-end-to-end-checks.md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Protocol, Sequence

from .net import WaitTimeout, wait_until
from . import outbox_check
from .outbox_check import EventsReport
from .paths import BUILD, ROOT


@dataclass
class Failure:
    """One node lost and brought back."""

    name: str  # what the table calls it: "booking replica (kill -9)", "redis primary 7000", ...
    component: str  # the scripts/cluster component that offers it
    kill: Callable[[], object]
    restore: Callable[[], object]
    node: str = ""  # the node's own name (a process record, a port): what the component's status calls it
    recovered: Optional[Callable[[], bool]] = None  # back at full strength (polled after restore)
    down_s: float = 3.0  # how long the node stays dead
    recover_timeout_s: float = 90.0


class FailureSource(Protocol):
    """A component whose nodes the chaos run may kill."""

    name: str

    def failures(self) -> list[Failure]: ...


def failures_of(components: Iterable[object]) -> list[Failure]:
    """Every failure the components offer, in component order."""
    found: list[Failure] = []
    for component in components:
        offer = getattr(component, "failures", None)
        if callable(offer):
            found.extend(offer())
    return found


# ------------------------------------------------------------------------------------------ the balancer's log


@dataclass(frozen=True)
class Answer:
    at: float  # epoch seconds the balancer accepted the request
    status: int  # -1: no answer (the client went away, or the balancer had nothing to send)
    method: str
    server: str  # backend/server, e.g. booking/marquee-booking-1 (<NOSRV> when none was chosen)
    retries: str
    termination: str  # haproxy's termination state, e.g. ---- (normal), SH-- (server closed)
    total_ms: int
    path: str

    @property
    def error(self) -> bool:
        return self.status >= 500 or self.status < 0

    @property
    def answered_at(self) -> float:
        """When the fan got the answer (or the balancer gave up)."""
        return self.at + max(self.total_ms, 0) / 1000.0


def parse_log_line(line: str) -> Optional[Answer]:
    """One line of balancer.py's log-format: `%Ts.%ms %ST %HM %b/%s %rc %tsc %Ta %HP %Th %Ti`. `%Ts` is when
    the connection was accepted or its previous request ended; the request arrived `%Th` + `%Ti` ms later
    (handshake, idle: -1 when not measured), and that is the Answer's `at`. Lines without them (an older
    format) keep `%Ts`."""
    parts = line.split()
    if len(parts) < 8:
        return None
    try:
        at = float(parts[0])
        if len(parts) >= 10:
            at += (max(int(parts[8]), 0) + max(int(parts[9]), 0)) / 1000.0
        return Answer(at, int(parts[1]), parts[2], parts[3], parts[4], parts[5], int(parts[6]), parts[7])
    except ValueError:
        return None


def read_answers(log: Path, offset: int = 0) -> list[Answer]:
    if not log.exists():
        return []
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return [a for a in (parse_log_line(line) for line in text.splitlines()) if a]


@dataclass
class Row:
    """One failure as the fans saw it."""

    name: str
    ran: bool = False
    note: str = ""
    killed_at: float = 0.0
    restored_after_s: float = 0.0  # restore() returned (the node serves again)
    back_after_s: Optional[float] = None  # recovered() true: full strength again
    requests: int = 0
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    first_error_s: Optional[float] = None  # from the kill
    last_error_s: Optional[float] = None

    @property
    def error_window_s(self) -> float:
        if self.first_error_s is None or self.last_error_s is None:
            return 0.0
        return self.last_error_s - self.first_error_s


# What marquee-load calls each route (its report's endpoint names), for the table's statuses.
ROUTE_NAMES = (
    (re.compile(r"^/api/v1/reservations$"), "hold"),
    (re.compile(r"^/api/v1/wallet/charges$"), "top-up"),
    (re.compile(r"^/api/v1/payments$"), "payment"),
    (re.compile(r"^/api/v1/schedules/[0-9]+/queue$"), "queue join"),
    (re.compile(r"^/api/v1/queue/me"), "queue poll"),
    (re.compile(r"^/api/v1/schedules/[0-9]+/availability"), "availability"),
    (re.compile(r"^/api/v1/schedules/[0-9]+/seats"), "seat map"),
    (re.compile(r"^/api/v1/auth/"), "login"),
)


def route_name(path: str) -> str:
    """The endpoint a path is (hold, top-up, payment, ...), or the path with its numbers as N."""
    bare = path.split("?", 1)[0]
    for pattern, name in ROUTE_NAMES:
        if pattern.match(bare):
            return name
    return re.sub(r"/[0-9]+", "/N", bare)


def charge(rows: list[Row], answers: Sequence[Answer], end: float) -> None:
    """Charges each answer to the failure whose kill it followed (until the next kill, or `end`), by the time
    the fan got it (accepted + total time): a request accepted just before a kill and failed by it is that
    kill's."""
    ran = [row for row in rows if row.ran]
    for i, row in enumerate(ran):
        until = ran[i + 1].killed_at if i + 1 < len(ran) else end
        for answer in answers:
            if not row.killed_at <= answer.answered_at < until:
                continue
            row.requests += 1
            if not answer.error:
                continue
            row.errors += 1
            label = str(answer.status) if answer.status >= 0 else "no answer"
            row.statuses[f"{label} {answer.method} {route_name(answer.path)}"] += 1
            since = answer.answered_at - row.killed_at
            row.first_error_s = since if row.first_error_s is None else min(row.first_error_s, since)
            row.last_error_s = since if row.last_error_s is None else max(row.last_error_s, since)


def baseline(answers: Sequence[Answer], until: float) -> tuple[int, Counter]:
    """Requests and error statuses before the first kill: the sale's own errors, for comparison."""
    errors: Counter = Counter()
    count = 0
    for answer in answers:
        if answer.answered_at >= until:
            continue
        count += 1
        if answer.error:
            errors[f"{answer.status if answer.status >= 0 else 'no answer'} {answer.method} {route_name(answer.path)}"] += 1
    return count, errors


def _statuses(counter: Counter) -> str:
    return ", ".join(f"{n}× {label}" for label, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "—"


def _seconds(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(rows: Sequence[Row]) -> str:
    """The Markdown table of the issue: per failure, how long fans saw errors, how many, which, recovery."""
    lines = [
        "| failure | down for (s) | requests meanwhile | errors | statuses"
        " | fans saw errors (first → last, s after the kill) | restored after (s) | back in rotation after (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if not row.ran:
            lines.append(f"| {row.name} | not run: {row.note} | | | | | | |")
            continue
        if row.first_error_s is not None:
            window = f"{row.error_window_s:.1f} s ({row.first_error_s:.1f} → {row.last_error_s:.1f})"
        else:
            window = "at the kill only (requests it held)" if row.errors else "none"
        lines.append(
            f"| {row.name} | {row.note or '—'} | {row.requests:,} | {row.errors:,} | {_statuses(row.statuses)} | "
            f"{window} | {row.restored_after_s:.1f} | {_seconds(row.back_after_s)} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- the sale


def psql_binary() -> str:
    return shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def sql(database_url: str, query: str) -> str:
    result = subprocess.run(
        [psql_binary(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database_url, "-c", query],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql: {result.stderr.strip()}")
    return result.stdout.strip()


def load_demo(database_url: str) -> None:
    """The demo accounts (the admin creates the sale's schedule); every file is idempotent."""
    for demo in sorted((ROOT / "scripts" / "demo").glob("*.sql")):
        subprocess.run(
            [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url, "-f", str(demo)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )


def taken_indexes(availability: dict) -> set[int]:
    """The seat indexes whose bit is set in an availability document's `taken` (base64, bit 0 = 0x80 of byte 0)."""
    bits = base64.b64decode(availability.get("taken", ""))
    count = int(availability.get("seatCount", len(bits) * 8))
    return {i for i in range(min(count, len(bits) * 8)) if bits[i // 8] & (0x80 >> (i % 8))}


def availability_difference(target: str, database_url: str, schedule: int) -> int:
    """Seats on which the fans' availability (GET through the balancer) and booking.seat_states() disagree."""
    live = sql(
        database_url,
        f"SELECT c.seat_index FROM booking.seat_states({schedule}) s JOIN catalog.seats c ON c.id = s.seat_id",
    )
    expected = {int(index) for index in live.split()}
    with urllib.request.urlopen(f"{target}/api/v1/schedules/{schedule}/availability", timeout=10) as response:
        seen = taken_indexes(json.loads(response.read()))
    return len(expected ^ seen)


@dataclass
class SaleOptions:
    users: int = 6000
    seats: int = 5000
    duration_s: int = 900  # the load's bound on the whole run
    ramp_ms: int = 20000  # logins spread over this, before the sale opens
    arrival_ms: int = 5000  # queue joins spread over this once it opens
    timeout_ms: int = 30000


@dataclass
class Verdict:
    schedule: int = 0
    load_exit: Optional[int] = None
    load_outcome: dict = field(default_factory=dict)
    sold: int = 0
    sold_distinct: int = 0
    availability_agreed_s: Optional[float] = None  # after the sale's end (holds expired), until they agreed
    availability_differs: int = 0
    held_twice: int = 0  # fans with two holds on the sale: a hold that reached booking twice
    holds_5xx: int = 0  # holds the balancer logged as answered 5xx (the fan sends them again)
    dropped: dict = field(default_factory=dict)  # endpoint -> fans' requests answered by a closed connection
    unsold: int = 0
    cut_purchases: int = 0  # POSTs of a purchase the balancer answered 5xx or not at all
    invariants_exit: Optional[int] = None
    invariants_output: str = ""
    money_gateway: Optional[int] = None  # what the gateway (pg-sim) kept during the run, KRW
    money_marquee: Optional[int] = None  # card money Marquee booked during the run (payments' card parts, top-ups)
    events: Optional[EventsReport] = None  # the outbox check (outbox_check.py)
    problems: list[str] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)  # condition -> its problems

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, condition: str, problem: str) -> None:
        """One more reason the run fails, under the pass condition (CONDITIONS) it breaks."""
        self.problems.append(problem)
        self.failed.setdefault(condition, []).append(problem)


# The pass conditions of issue 16, in the order the run prints them, and what each one checks.
CONDITIONS = {
    "seats": "every seat sold at most once, and the sale completes",
    "money": "0 lost or doubled money (scripts/check-invariants; pg-sim's books = Marquee's)",
    "events": "every outbox event delivered at least once and consumed once",
    "availability": "the availability bitset equals booking.seat_states() at the end",
    "recovery": "every failed node recovered",
}


def conditions(verdict: Verdict, checked: Iterable[str] = CONDITIONS) -> list[str]:
    """One PASS/FAIL line per pass condition, with its first problem (or NOT CHECKED when it could not run)."""
    lines = []
    for key in checked:
        problems = verdict.failed.get(key, [])
        if key == "events" and verdict.events is None and not problems:
            lines.append(f"NOT CHECKED  {CONDITIONS[key]} (no NATS URL or gateway given)")
            continue
        if not problems:
            lines.append(f"PASS  {CONDITIONS[key]}")
            continue
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        lines.append(f"FAIL  {CONDITIONS[key]}: {problems[0].splitlines()[0]}{more}")
    return lines


PURCHASE_PATHS = ("/api/v1/reservations", "/api/v1/wallet/charges", "/api/v1/payments")


def run_chaos(
    failures: Sequence[Failure],
    target: str,
    balancer_log: Path,
    database_url: str,
    workdir: Path,
    sale: SaleOptions = SaleOptions(),
    settle_s: float = 3.0,
    hold_ttl_s: int = 300,
    log: Callable[[str], None] = print,
    nats_urls: str = "",
    gateway_url: str = "",
) -> tuple[list[Row], Verdict, str]:
    """Runs the sale through `target`, the failures one at a time mid-sale, and judges the outcome.

    With `nats_urls` and `gateway_url` it also checks the outbox's events end to end and the gateway's books
    against Marquee's (outbox_check.py), from a snapshot taken before the sale.
    Returns the table rows, the verdict and a summary paragraph (baseline errors, the load's outcome).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    load_demo(database_url)
    query = lambda text: sql(database_url, text)  # noqa: E731
    events_start = books_start = None
    if nats_urls and gateway_url:
        events_start = outbox_check.events_before(nats_urls, query)
        books_start = outbox_check.books(gateway_url, query)
    offset = balancer_log.stat().st_size if balancer_log.exists() else 0
    report = workdir / "chaos-load.json"
    report.unlink(missing_ok=True)
    argv = [
        str(BUILD / "src" / "load" / "marquee-load"),
        "--scenario=flash-sale",
        f"--target={target}",
        f"--users={sale.users}",
        f"--seats={sale.seats}",
        f"--duration={sale.duration_s}",
        f"--ramp-ms={sale.ramp_ms}",
        f"--arrival-ms={sale.arrival_ms}",
        f"--timeout-ms={sale.timeout_ms}",
        f"--database-url={database_url}",
        f"--check-invariants={ROOT / 'scripts' / 'check-invariants'}",
        f"--json={report}",
    ]
    rows = [Row(failure.name) for failure in failures]
    verdict = Verdict()
    load_out = open(workdir / "chaos-load.log", "wb")  # noqa: SIM115 -- the child's output
    started = time.time()
    log(f"sale: {sale.users} fans, {sale.seats} seats through {target}")
    load = subprocess.Popen(argv, stdout=load_out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # The failures begin once holds flow through the balancer: the sale is open.
        def holding() -> bool:
            if load.poll() is not None:
                raise RuntimeError(f"marquee-load exited ({load.returncode}) before the sale opened")
            answers = read_answers(balancer_log, offset)
            return any(a.method == "POST" and a.path == "/api/v1/reservations" for a in answers)

        wait_until(holding, sale.ramp_ms / 1000 + 180, "the first hold through the balancer", every=0.5)
        sale_open = time.time()
        log(f"sale open after {sale_open - started:.1f} s")
        for failure, row in zip(failures, rows):
            if load.poll() is not None:
                row.note = "the sale had ended"
                continue
            row.ran = True
            row.killed_at = time.time()
            log(f"{failure.name}: kill")
            failure.kill()
            time.sleep(failure.down_s)
            row.note = f"{failure.down_s:g}"
            log(f"{failure.name}: restore")
            failure.restore()
            row.restored_after_s = time.time() - row.killed_at
            if failure.recovered is not None:
                try:
                    wait_until(failure.recovered, failure.recover_timeout_s, f"{failure.name} recovered", every=0.1)
                    row.back_after_s = time.time() - row.killed_at
                except WaitTimeout as error:
                    verdict.fail("recovery", str(error))
            else:
                row.back_after_s = row.restored_after_s
            log(f"{failure.name}: back after {_seconds(row.back_after_s)} s")
            time.sleep(settle_s)
        # The sale runs to its end by itself.
        try:
            verdict.load_exit = load.wait(timeout=sale.duration_s + 120)
        except subprocess.TimeoutExpired:
            verdict.fail("seats", f"the sale did not end within {sale.duration_s + 120} s")
    finally:
        if load.poll() is None:
            os.killpg(load.pid, 9)
            load.wait()
        load_out.close()
    ended = time.time()
    answers = read_answers(balancer_log, offset)
    charge(rows, answers, ended)
    first_kill = next((row.killed_at for row in rows if row.ran), ended)
    base_count, base_errors = baseline(answers, first_kill)

    # ---- judge
    try:
        doc = json.loads(report.read_text())
    except (OSError, ValueError):
        doc = {}
        verdict.fail("seats", f"no report from marquee-load (see {workdir / 'chaos-load.log'})")
    verdict.load_outcome = doc.get("outcome", {})
    verdict.schedule = int(verdict.load_outcome.get("schedule", 0) or 0)
    if int(verdict.load_outcome.get("crashed_users", 0) or 0):
        verdict.fail("seats", f"{verdict.load_outcome['crashed_users']} virtual fans crashed")
    if verdict.schedule:
        schedule = verdict.schedule
        # Holds whose answer a kill cut go back on sale after the hold TTL: wait for the sweeper.
        def no_live_holds() -> bool:
            return sql(
                database_url,
                "SELECT count(*) FROM booking.reservation_seats rs"
                " JOIN booking.reservations r ON r.id = rs.reservation_id"
                f" WHERE rs.schedule_id = {schedule} AND rs.state = 'HELD' AND r.state = 'HELD'",
            ) == "0"

        try:
            wait_until(no_live_holds, hold_ttl_s + 60, "every hold of the sale paid or expired", every=1)
        except WaitTimeout as error:
            verdict.fail("seats", str(error))
        sold = sql(
            database_url,
            f"SELECT count(*) || '|' || count(DISTINCT seat_id) FROM booking.reservation_seats "
            f"WHERE schedule_id = {schedule} AND state = 'SOLD'",
        ).split("|")
        verdict.sold, verdict.sold_distinct = int(sold[0]), int(sold[1])
        verdict.unsold = sale.seats - verdict.sold_distinct
        if verdict.sold != verdict.sold_distinct:
            verdict.fail("seats", f"{verdict.sold - verdict.sold_distinct} seats sold twice")
        # The availability bitset the fans read equals booking's live seats: events and the reconcile (every
        # 10 s, ADR 0014) have caught up within a minute of the last hold expiring.
        checked_at = time.time()
        try:
            wait_until(
                lambda: availability_difference(target, database_url, schedule) == 0, 60, "availability", every=1
            )
            verdict.availability_agreed_s = time.time() - checked_at
        except WaitTimeout:
            verdict.availability_differs = availability_difference(target, database_url, schedule)
            verdict.fail(
                "availability",
                f"the availability bitset differs from booking.seat_states() on {verdict.availability_differs} seats",
            )
        # A virtual fan holds one seat: after a 409 it picks another (nothing was held), after a 5xx it gives up.
        # Two holds of one fan mean a hold request reached booking twice.
        verdict.held_twice = int(
            sql(
                database_url,
                f"SELECT count(*) FROM (SELECT user_id FROM booking.reservations WHERE schedule_id = {schedule} "
                f"GROUP BY user_id HAVING count(*) > 1) twice",
            )
        )
    else:
        verdict.fail("seats", "the sale made no schedule")
    # What the fans saw that the balancer's log cannot show: a request on a kept-alive connection whose server
    # died gets no answer and no log line (balancer.py); marquee-load counts it as a transport error.
    verdict.dropped = {
        name: int(stats.get("errors", 0))
        for name, stats in doc.get("endpoints", {}).items()
        if int(stats.get("errors", 0) or 0)
    }
    # With one failure run, its row gets them too; with several, they stay a total for the run (the summary).
    ran = [row for row in rows if row.ran]
    if len(ran) == 1:
        for name, count in verdict.dropped.items():
            ran[0].errors += count
            ran[0].statuses[f"no answer (connection closed) {name}"] += count
    # marquee-load resends a hold whose connection closed unanswered, or that was answered 503 (as a fan
    # pressing again after "try again"). A hold answered 503 may still have been applied: during a PostgreSQL
    # failover a COMMIT whose answer was lost, or that waited for the standby, is answered 503 with its outcome
    # unknown (ADR 0021), and holds carry no Idempotency-Key, so the fan's second try is a second hold. A fan
    # holds twice only where one of these happened: more fans holding twice than holds dropped or answered 5xx
    # would mean a hold reached booking twice without the fan sending it twice.
    verdict.holds_5xx = sum(
        1 for a in answers if a.status >= 500 and a.method == "POST" and a.path == "/api/v1/reservations"
    )
    resent = verdict.dropped.get("hold", 0) + verdict.holds_5xx
    if verdict.held_twice > resent:
        verdict.fail(
            "seats",
            f"{verdict.held_twice} fans hold two seats but only {verdict.dropped.get('hold', 0)} hold connections "
            f"dropped and {verdict.holds_5xx} holds answered 5xx: a hold reached booking twice without the fan "
            "sending it twice",
        )
    verdict.cut_purchases = sum(
        1 for a in answers if a.error and a.method == "POST" and a.path in PURCHASE_PATHS and a.at >= first_kill
    ) + sum(verdict.dropped.get(name, 0) for name in ("hold", "wallet charge", "payment"))
    # The sale completes: it ends by itself, and every seat is sold but for at most one per purchase request a
    # failure cut (a fan whose hold or payment got a 5xx gives up; a hold a dropped connection made twice keeps
    # its first seat until the hold TTL; by then the fans who would have bought it may all be gone).
    if verdict.load_exit is None:
        verdict.fail("seats", "the sale did not end by itself")
    expected_sold = min(sale.users, sale.seats)
    if expected_sold - verdict.sold_distinct > verdict.cut_purchases:
        verdict.fail(
            "seats",
            f"{expected_sold - verdict.sold_distinct} seats unsold, more than the {verdict.cut_purchases}"
            " purchase requests the failures cut",
        )
    # The money checks for the sale's fans (every fan who paid or topped up held a seat of it first), so rows
    # other suites wrote in a shared database do not count; the seat checks are always global.
    fans = ""
    if verdict.schedule:
        fans = sql(
            database_url, f"SELECT DISTINCT user_id FROM booking.reservations WHERE schedule_id = {verdict.schedule}"
        )
    inv = subprocess.run(
        [str(ROOT / "scripts" / "check-invariants"), "--database-url", database_url, "--users-from", "-"],
        input=fans + "\n",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    verdict.invariants_exit = inv.returncode
    verdict.invariants_output = inv.stdout
    if inv.returncode != 0:
        verdict.fail("money", f"scripts/check-invariants exited {inv.returncode}:\n{inv.stdout}")
    events_note = ""
    if events_start is not None and books_start is not None:
        events_note = judge_events_and_books(verdict, nats_urls, gateway_url, query, events_start, books_start)

    o = verdict.load_outcome
    summary = (
        f"Sale: {sale.users:,} fans for {sale.seats:,} seats (schedule {verdict.schedule}); "
        f"{verdict.sold:,} seats SOLD ({verdict.sold_distinct:,} distinct), {verdict.unsold:,} unsold; "
        f"{verdict.cut_purchases} purchase requests cut by the failures, {verdict.held_twice} fans holding twice "
        f"({verdict.holds_5xx} holds answered 5xx, resent by their fans); "
        "fans' requests answered by a closed connection (not in the balancer's log): "
        f"{_statuses(Counter(verdict.dropped))}; fans: {o.get('paid', '?')} paid, "
        f"{o.get('sold_out_users', '?')} found the seats gone, {o.get('failed_users', '?')} stopped without a seat "
        "(told sold out in the queue, or after an error); "
        f"{o.get('retries_after_503_429', '?')} retries after 503/429; marquee-load exit {verdict.load_exit}; "
        f"scripts/check-invariants exit {verdict.invariants_exit}; availability bitset = booking.seat_states() "
        + (
            f"after {verdict.availability_agreed_s:.0f} s. "
            if verdict.availability_agreed_s is not None
            else f"NOT (differs on {verdict.availability_differs} seats). "
        )
        + events_note
        + f"Before the first kill: {base_count:,} requests, errors: {_statuses(base_errors)}. "
        f"Whole run {ended - started:.0f} s."
    )
    return rows, verdict, summary


def judge_events_and_books(
    verdict: Verdict,
    nats_urls: str,
    gateway_url: str,
    query: Callable[[str], str],
    events_start: outbox_check.EventsBefore,
    books_start: outbox_check.Books,
    settle_timeout_s: float = 180.0,
) -> str:
    """The outbox and money checks, once the run has settled: every outbox row of the run published, the
    durable drained, no payment or top-up PENDING (recovery finishes those after MARQUEE_RECOVERY_AGE_S).
    Returns the summary's sentences."""
    try:
        wait_until(lambda: outbox_check.settled(nats_urls, query, events_start), settle_timeout_s,
                   "every outbox event of the run published and consumed", every=1)  # fmt: skip
    except WaitTimeout as error:
        verdict.fail("events", str(error))
    try:
        wait_until(lambda: query(outbox_check.UNRESOLVED) == "0", settle_timeout_s,
                   "no payment or top-up left PENDING", every=1)  # fmt: skip
    except WaitTimeout as error:
        verdict.fail("money", str(error))
    note = ""
    try:
        report = outbox_check.events_after(nats_urls, query, events_start)
        verdict.events = report
        for problem in report.problems:
            verdict.fail("events", problem)
        note += outbox_check.describe_events(report)
    except (OSError, RuntimeError, ValueError) as error:
        verdict.fail("events", f"the outbox check could not run: {error}")
    try:
        books_end = outbox_check.books(gateway_url, query)
        verdict.money_gateway = books_end.gateway - books_start.gateway
        verdict.money_marquee = books_end.marquee - books_start.marquee
        difference = outbox_check.money_difference(books_start, books_end)
        if difference:
            verdict.fail(
                "money",
                f"the gateway kept {verdict.money_gateway:,} KRW during the run, Marquee booked "
                f"{verdict.money_marquee:,} KRW of card money: {difference:+,} KRW",
            )
        note += (
            f"Money: the gateway (pg-sim) kept {verdict.money_gateway:,} KRW during the run, Marquee booked "
            f"{verdict.money_marquee:,} KRW (card parts of APPROVED payments and APPROVED top-ups): "
            f"difference {difference:+,}. "
        )
    except (OSError, RuntimeError, ValueError) as error:
        verdict.fail("money", f"pg-sim's books could not be read: {error}")
    return note
