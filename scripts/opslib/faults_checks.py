"""What every fault recipe proves at its end (scripts/faults, ADR 0030): the invariants, read from the recipe's
own database and pg-sim, and the one PASS/FAIL line a recipe prints."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

from .books import MARQUEE_CARD_MONEY, gateway_kept
from .faults_stack import ROOT, Stack, taken_seats

CHECK_INVARIANTS = ROOT / "scripts" / "check-invariants"


def money_mismatch(stack: Stack) -> int:
    """|money the gateway kept - card money Marquee booked| in KRW (approved payments' card parts and approved
    wallet top-ups, less confirmed refunds: opslib.books)."""
    gateway = gateway_kept(stack.pgsim_stats())
    booked = stack.sql_int(MARQUEE_CARD_MONEY)
    return abs(gateway - booked)


def double_sales(stack: Stack) -> int:
    """Seats sold, or held and not expired, by more than one reservation."""
    return stack.sql_int(
        """SELECT count(*) FROM (SELECT 1 FROM booking.reservation_seats rs
             JOIN booking.reservations r ON r.id = rs.reservation_id
            WHERE rs.state = 'SOLD' OR (rs.state = 'HELD' AND r.expires_at > now())
            GROUP BY rs.schedule_id, rs.seat_id HAVING count(*) > 1) t"""
    )


def unresolved(stack: Stack) -> int:
    """PENDING payments and charges, and failed payments whose card part the gateway still holds."""
    return stack.sql_int(
        """SELECT (SELECT count(*) FROM payment.payments
                    WHERE state = 'PENDING' OR (state = 'FAILED' AND pg_status = 'APPROVED'))
                + (SELECT count(*) FROM wallet.charges WHERE state = 'PENDING')"""
    )


def outbox_unpublished(stack: Stack) -> int:
    return stack.sql_int(
        "SELECT (SELECT count(*) FROM booking.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM payment.outbox WHERE published_at IS NULL)"
    )


def count_of(stack: Stack, table: str, where: str = "TRUE") -> int:
    return stack.sql_int(f"SELECT count(*) FROM {table} WHERE {where}")


def approved_payments(stack: Stack) -> int:
    return count_of(stack, "payment.payments", "state = 'APPROVED'")


def sold_seats(stack: Stack) -> int:
    return count_of(stack, "booking.reservation_seats", "state = 'SOLD'")


def availability_diff(taken_b64: str, live: str) -> str:
    """'' when the availability bitset's taken seats are exactly `live` (comma-separated seat indexes, as
    booking.seat_states() gives them); else how they differ."""
    from_bitset = ",".join(str(i) for i in taken_seats(taken_b64))
    return "" if from_bitset == live else f"availability has [{from_bitset}], booking has [{live}]"


def availability_matches(stack: Stack, api_name: str, schedule_id: int) -> str:
    """'' when the availability endpoint agrees with booking's seat states; else what differs."""
    answer = stack.api(api_name).client.get(f"/api/v1/schedules/{schedule_id}/availability")
    live = stack.sql(
        f"""SELECT coalesce(string_agg(s.seat_index::text, ',' ORDER BY s.seat_index), '')
              FROM booking.seat_states({schedule_id}) b JOIN catalog.seats s ON s.id = b.seat_id"""
    )
    if answer.status != 200:
        return f"availability answered {answer.code}"
    return availability_diff(answer.field("taken"), live)


@dataclass
class Outcome:
    """A recipe's figures and the reasons it fails (none: it passed)."""

    figures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def figure(self, text: str) -> None:
        self.figures.append(text)

    def expect(self, holds: bool, problem: str) -> None:
        if not holds:
            self.problems.append(problem)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def line(self, name: str, seconds: int, logs: str) -> str:
        """The one line a recipe prints: `PASS name figures, Ns` or `FAIL name figures, Ns (why; logs in ...)`."""
        figures = " ".join(self.figures)
        if not self.problems:
            return f"PASS {name:<9} {figures}, {seconds}s"
        return f"FAIL {name:<9} {figures}, {seconds}s ({'; '.join(self.problems)}; logs in {logs})"


def check_invariants(stack: Stack, outcome: Outcome) -> None:
    """scripts/check-invariants on the stack's database: a breach fails the recipe (its report goes to stderr)."""
    done = subprocess.run(
        [str(CHECK_INVARIANTS), "--database-url", stack.env["MARQUEE_DATABASE_URL"], "--window", "60"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        outcome.problem("scripts/check-invariants found a breach")
        print(done.stdout + done.stderr, file=sys.stderr, end="", flush=True)
