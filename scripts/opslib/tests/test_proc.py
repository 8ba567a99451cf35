"""The process records: a started process is found, stopped by its pid, and a stale record is harmless."""

import os
import signal
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.net import WaitTimeout, free_ports, is_port_open, wait_port, wait_until  # noqa: E402
from opslib.paths import StateDir  # noqa: E402
from opslib.proc import Processes  # noqa: E402

# Listens on argv[1] until killed.
LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen(16)\n"
    "time.sleep(60)\n"
)


class ProcessesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.procs = Processes(StateDir(Path(self.folder.name)))

    def tearDown(self) -> None:
        for record in self.procs.records():
            self.procs.stop(record.name, timeout=5)
        self.folder.cleanup()

    def test_a_spawned_process_is_alive_until_stopped(self) -> None:
        self.procs.spawn("sleeper", ["sleep", "30"], ports={"main": 1})
        self.assertTrue(self.procs.alive("sleeper"))
        self.assertEqual(self.procs.record("sleeper").ports, {"main": 1})
        self.procs.stop("sleeper")
        self.assertFalse(self.procs.alive("sleeper"))
        self.assertIsNone(self.procs.record("sleeper"))

    def test_kill9_keeps_the_record_so_it_can_be_restarted(self) -> None:
        self.procs.spawn("victim", ["sleep", "30"])
        self.assertTrue(self.procs.kill9("victim"))
        self.assertFalse(self.procs.alive("victim"))
        self.assertIsNotNone(self.procs.record("victim"))
        self.procs.spawn("victim", ["sleep", "30"])
        self.assertTrue(self.procs.alive("victim"))

    def test_kill9_returns_once_the_port_of_the_killed_process_refuses(self) -> None:
        # A process being killed loses its command line before its sockets: kill9 waits for the sockets (a
        # balancer test sent a POST to a port that still completed connections and got 502 for a refusal).
        for port in free_ports(10):
            self.procs.spawn("listener", [sys.executable, "-c", LISTENER, str(port)])
            wait_port(port, 10)
            self.assertTrue(self.procs.kill9("listener"))
            self.assertTrue(self.procs.gone("listener"))
            self.assertFalse(is_port_open(port), f"port {port} still accepts after kill9")
            self.procs.forget("listener")

    def test_a_record_whose_pid_runs_another_program_is_not_signalled(self) -> None:
        # Our own pid runs python, not "sleep": the record must not be taken for ours.
        self.procs.adopt("stale", os.getpid(), ["sleep", "30"])
        self.assertFalse(self.procs.alive("stale"))
        self.assertFalse(self.procs.send("stale", signal.SIGTERM))

    def test_spawning_a_live_name_twice_is_refused(self) -> None:
        self.procs.spawn("once", ["sleep", "30"])
        with self.assertRaises(RuntimeError):
            self.procs.spawn("once", ["sleep", "30"])


class NetTest(unittest.TestCase):
    def test_free_ports_are_distinct_and_closed(self) -> None:
        ports = free_ports(5)
        self.assertEqual(len(set(ports)), 5)
        self.assertFalse(any(is_port_open(port) for port in ports))

    def test_wait_until_names_what_did_not_happen(self) -> None:
        with self.assertRaisesRegex(WaitTimeout, "the moon"):
            wait_until(lambda: False, 0.2, "the moon")
        self.assertEqual(wait_until(lambda: 7, 1, "seven"), 7)


if __name__ == "__main__":
    unittest.main()
