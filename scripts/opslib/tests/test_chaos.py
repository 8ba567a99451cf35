"""The chaos run's bookkeeping: the balancer's log read back, errors charged to the failure they followed."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.chaos import (  # noqa: E402
    Failure,
    Row,
    baseline,
    charge,
    failures_of,
    parse_log_line,
    route_name,
    table,
    taken_indexes,
)


def answer(at: float, status: int, method: str = "GET", path: str = "/api/v1/concerts"):
    return parse_log_line(f"{at:.3f} {status} {method} catalog/marquee-catalog-1 0 ---- 3 {path}")


class LogTest(unittest.TestCase):
    def test_a_log_line_is_read_and_noise_is_skipped(self) -> None:
        a = parse_log_line("1796585784.405 502 POST booking/marquee-booking-1 0 SH-- 12 /api/v1/reservations")
        self.assertEqual((a.at, a.status, a.method, a.path, a.termination), (1796585784.405, 502, "POST", "/api/v1/reservations", "SH--"))
        self.assertTrue(a.error)
        self.assertTrue(parse_log_line("1.000 -1 GET booking/<NOSRV> 0 CD-- 1 /x").error)
        self.assertFalse(parse_log_line("1.000 409 POST booking/b 0 ---- 1 /x").error)
        self.assertIsNone(parse_log_line("[NOTICE]   (2935) : haproxy version is 2.6.12"))
        # A request on a kept-alive connection 2.5 s after the previous one ended (idle 2,500 ms).
        later = parse_log_line("1796585784.405 201 POST queue/marquee-queue-1 0 ---- 12 /api/v1/schedules/1/queue 0 2500")
        self.assertAlmostEqual(later.at, 1796585786.905)
        self.assertAlmostEqual(parse_log_line("10.000 200 GET a/b 0 ---- 1 /x -1 -1").at, 10.0)


class ChargeTest(unittest.TestCase):
    def test_errors_go_to_the_failure_they_followed(self) -> None:
        rows = [Row("a", ran=True, killed_at=100.0), Row("skipped", note="the sale had ended"), Row("b", ran=True, killed_at=200.0)]
        # A request accepted just before b's kill and answered after it (199.9 + 3 ms) is b's.
        late = parse_log_line("199.999 503 POST booking/marquee-booking-1 0 ---- 3 /api/v1/reservations")
        answers = [answer(50, 503), answer(100.5, 502, "POST"), answer(101, 200), answer(102.5, 503), late, answer(201, 200)]
        charge(rows, answers, end=300.0)
        a, skipped, b = rows
        self.assertEqual((a.requests, a.errors), (3, 2))
        self.assertEqual(dict(a.statuses), {"502 POST /api/v1/concerts": 1, "503 GET /api/v1/concerts": 1})
        self.assertAlmostEqual(a.first_error_s, 0.503)  # answered 3 ms after it was accepted
        self.assertAlmostEqual(a.error_window_s, 2.0)
        self.assertEqual((skipped.requests, b.requests, b.errors), (0, 2, 1))
        self.assertEqual(dict(b.statuses), {"503 POST hold": 1})
        self.assertEqual(b.error_window_s, 0.0)
        count, errors = baseline(answers, until=100.0)
        self.assertEqual((count, dict(errors)), (1, {"503 GET /api/v1/concerts": 1}))
        text = table(rows)
        self.assertIn("| a |", text)
        self.assertIn("not run: the sale had ended", text)
        self.assertIn("1× 502 POST /api/v1/concerts", text)

    def test_routes_are_named_as_the_load_names_them(self) -> None:
        self.assertEqual(route_name("/api/v1/reservations"), "hold")
        self.assertEqual(route_name("/api/v1/schedules/42/queue"), "queue join")
        self.assertEqual(route_name("/api/v1/queue/me?scheduleId=42"), "queue poll")
        self.assertEqual(route_name("/api/v1/wallet/charges"), "top-up")
        self.assertEqual(route_name("/api/v1/concerts/7/schedules"), "/api/v1/concerts/N/schedules")


class AvailabilityTest(unittest.TestCase):
    def test_taken_bits_are_read_most_significant_first(self) -> None:
        # 0b10000001 0b01000000: seats 0, 7 and 9 of 12 taken (the padding bits beyond seatCount ignored).
        self.assertEqual(taken_indexes({"seatCount": 12, "taken": "gUA="}), {0, 7, 9})
        self.assertEqual(taken_indexes({"seatCount": 9, "taken": "gf8="}), {0, 7, 8})


class HookTest(unittest.TestCase):
    def test_failures_are_collected_from_components_that_offer_them(self) -> None:
        class Engine:
            name = "redis"

            def failures(self):
                return [Failure("redis primary", "redis", kill=lambda: None, restore=lambda: None)]

        class Plain:
            name = "plain"

        found = failures_of([Engine(), Plain()])
        self.assertEqual([f.name for f in found], ["redis primary"])


if __name__ == "__main__":
    unittest.main()
