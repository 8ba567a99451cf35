"""The fault recipes' helpers (scripts/faults, ADR 0030): what they count and decode, without a stack."""

import base64
import contextlib
import io
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib import faults  # noqa: E402
from opslib.faults_checks import Outcome, availability_diff  # noqa: E402
from opslib.faults_stack import (  # noqa: E402
    Answer,
    Client,
    Tally,
    asan_runtime,
    children_of,
    finish_uninterrupted,
    jwt_iat,
    metric_sum,
    metric_value,
    number,
    taken_seats,
    within,
)


class DecodingTest(unittest.TestCase):
    def test_taken_seats_reads_the_bitset_most_significant_bit_first(self) -> None:
        bits = base64.b64encode(bytes([0b10100000, 0b00000001])).decode()
        self.assertEqual(taken_seats(bits), [0, 2, 15])
        self.assertEqual(taken_seats(""), [])

    def test_availability_diff_names_both_sides(self) -> None:
        bits = base64.b64encode(bytes([0b01000000])).decode()
        self.assertEqual(availability_diff(bits, "1"), "")
        self.assertEqual(availability_diff(bits, "1,3"), "availability has [1], booking has [1,3]")
        self.assertEqual(availability_diff("", ""), "")

    def test_jwt_iat_is_read_from_an_unpadded_payload(self) -> None:
        for claims in ({"iat": 1700000000, "sub": "x"}, {"iat": 5, "sub": "ab"}):
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
            self.assertEqual(jwt_iat(f"h.{payload}.s"), claims["iat"])
        self.assertEqual(jwt_iat("not-a-token"), 0)

    def test_metrics_sum_a_family_and_read_one_series(self) -> None:
        page = "\n".join([
            "# TYPE booking_holds_expired_total counter",
            "booking_holds_expired_total 3",
            'payment_recoveries_total{action="resolved"} 4',
            'payment_recoveries_total{action="failed"} 1',
            'payment_gateway_circuit_open{caller="payment"} 1',
            "booking_holds_expired_total_other 100",
        ])
        self.assertEqual(metric_sum(page, "booking_holds_expired_total"), 3)
        self.assertEqual(metric_sum(page, "payment_recoveries_total"), 5)
        self.assertEqual(metric_sum(page, 'payment_recoveries_total{action="resolved"}'), 4)
        self.assertEqual(metric_sum(page, "missing_total"), 0)
        self.assertEqual(metric_value(page, 'payment_gateway_circuit_open{caller="payment"}'), "1")
        self.assertEqual(metric_value(page, 'payment_gateway_circuit_open{caller="wallet"}'), "")
        self.assertEqual(number(8.0), "8")
        self.assertEqual(number(2.5), "2.5")

    def test_the_asan_runtime_is_found_in_ldd_output(self) -> None:
        sanitized = (
            "\tlinux-vdso.so.1 (0x00007ffd)\n"
            "\tlibasan.so.8 => /lib/x86_64-linux-gnu/libasan.so.8 (0x00007f10)\n"
            "\tlibubsan.so.1 => /lib/x86_64-linux-gnu/libubsan.so.1 (0x00007f20)\n"
        )
        self.assertEqual(asan_runtime(sanitized), "/lib/x86_64-linux-gnu/libasan.so.8")
        self.assertIsNone(asan_runtime("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f30)\n"))
        self.assertIsNone(asan_runtime("\tlibasan.so.8 => not found\n"))


class TallyTest(unittest.TestCase):
    def test_counts_statuses_and_well_formed_503s(self) -> None:
        tally = Tally()
        problem = "application/problem+json"
        for answer in (
            Answer(201, took=0.010),
            Answer(503, retry_after="1", content_type=problem, took=0.5019),
            Answer(503, retry_after="", content_type=problem),
            Answer(503, retry_after="1", content_type="text/plain"),
            Answer(0, took=15.0),
            Answer(409),
        ):
            tally.add(answer)
        self.assertEqual(len(tally), 6)
        self.assertEqual(tally.count(503), 3)
        self.assertEqual(tally.where(lambda a: a.good_503), 1)
        self.assertEqual(tally.count(0), 1)
        self.assertEqual(tally.statuses(), "1 000 1 201 1 409 3 503")
        self.assertEqual(tally.slowest_ms(), 15000)
        self.assertEqual(Tally().slowest_ms(), 0)

    def test_the_verdict_line(self) -> None:
        out = Outcome()
        out.figure("3 holds,")
        out.figure("0 hung")
        self.assertEqual(out.line("redis", 12, "/logs"), "PASS redis     3 holds, 0 hung, 12s")
        out.expect(True, "never shown")
        out.expect(False, "no 503 while Redis was down")
        out.problem("2 double sales")
        self.assertEqual(
            out.line("redis", 12, "/logs"),
            "FAIL redis     3 holds, 0 hung, 12s (no 503 while Redis was down; 2 double sales; logs in /logs)",
        )


class WaitingTest(unittest.TestCase):
    def test_within_polls_until_true_or_gives_up(self) -> None:
        calls = []
        self.assertTrue(within(5, lambda: calls.append(1) or len(calls) >= 3, every=0.01))
        self.assertEqual(len(calls), 3)
        self.assertFalse(within(0.05, lambda: False, every=0.01))

    def test_children_of_finds_a_process_its_child(self) -> None:
        parent = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
        try:
            found = []
            within(5, lambda: bool(found.extend(children_of(parent.pid)) or found), every=0.05)
            self.assertEqual(len(found), 1)
            # The child may be found between its fork and its exec (an empty or `sh` command line on a busy
            # machine): what it runs is read until the exec has happened.
            cmdline = Path(f"/proc/{found[0]}/cmdline")
            within(5, lambda: "sleep" in cmdline.read_bytes().decode(), every=0.02)
            self.assertIn("sleep", cmdline.read_bytes().decode())
        finally:
            for pid in children_of(parent.pid):
                subprocess.run(["kill", str(pid)])
            parent.wait(timeout=10)


class InterruptedTest(unittest.TestCase):
    def test_an_interrupted_wait_lets_the_child_finish_then_raises(self) -> None:
        class Stop(Exception):
            pass

        def stop(*_) -> None:
            raise Stop()

        previous = signal.signal(signal.SIGUSR1, stop)
        try:
            child = subprocess.Popen(["sleep", "1"])
            threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()
            with self.assertRaises(Stop):
                finish_uninterrupted(child)
            self.assertEqual(child.returncode, 0, "the child ran to its end")
        finally:
            signal.signal(signal.SIGUSR1, previous)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 -- the http.server name
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for line in (b": hi\n", b"event: position\n", b"data: {}\n\n", b"event: admitted\n", b"data: {}\n\n"):
                self.wfile.write(line)
                self.wfile.flush()
            return
        body = b'{"type":"about:blank","status":503}'
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def test_an_answer_keeps_what_the_recipes_count(self) -> None:
        answer = Client(self.port, 5).get("/")
        self.assertEqual((answer.status, answer.retry_after), (503, "1"))
        self.assertTrue(answer.good_503)
        self.assertEqual(answer.field("status"), "503")
        self.assertEqual(answer.field("missing"), "")

    def test_no_answer_within_the_deadline_is_000(self) -> None:
        answer = Client(self.port, 0.3).get("/slow")
        self.assertEqual(answer.code, "000")
        self.assertLess(answer.took, 1.5)
        from opslib.net import free_port

        self.assertEqual(Client(free_port(), 1).get("/").status, 0)

    def test_an_event_stream_is_followed_until_its_marker(self) -> None:
        client = Client(self.port, 5)
        self.assertTrue(client.events_until("/events", "t", b"event: admitted", 5))
        self.assertFalse(client.events_until("/events", "t", b"event: never", 5))


class _FakeStack:
    downs = 0

    def __init__(self, name, home) -> None:
        self.state = type("State", (), {"base": Path(home) / name})()
        self.logs = Path(home) / name / "logs"
        self.env = {}

    def up(self) -> None:
        pass

    def down(self) -> None:
        _FakeStack.downs += 1


class RunRecipeTest(unittest.TestCase):
    def test_a_recipe_that_raises_fails_with_the_reason_and_its_stack_comes_down(self) -> None:
        def broken(stack, out) -> None:
            out.figure("half way")
            raise ValueError("no seat")

        saved = (faults.Stack, dict(faults.RECIPES))
        faults.Stack, faults.RECIPES["broken"] = _FakeStack, broken
        try:
            with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.redirect_stderr(io.StringIO()):
                self.assertFalse(faults.run_recipe("broken", Path("/nowhere")))
        finally:
            faults.Stack = saved[0]
            faults.RECIPES.clear()
            faults.RECIPES.update(saved[1])
        self.assertEqual(_FakeStack.downs, 1)
        self.assertRegex(printed.getvalue(), r"^FAIL broken    half way, \d+s \(error: ValueError: no seat; logs in ")


class CommandLineTest(unittest.TestCase):
    def test_usage_list_and_unknown_names(self) -> None:
        self.assertEqual(
            list(faults.RECIPES), ["crash", "redis", "nats", "pg-sim", "postgres", "replicas", "clock", "pg-crash"]
        )
        self.assertTrue(set(faults.QUICK) <= set(faults.RECIPES))
        with contextlib.redirect_stdout(io.StringIO()) as listed:
            self.assertEqual(faults.main(["list"]), 0)
        self.assertEqual(listed.getvalue().split(), list(faults.RECIPES))
        with contextlib.redirect_stderr(io.StringIO()) as told:
            self.assertEqual(faults.main(["crash", "nope"]), 2)
        self.assertIn("unknown recipe 'nope'", told.getvalue())


if __name__ == "__main__":
    unittest.main()
