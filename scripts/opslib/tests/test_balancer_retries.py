"""The balancer's retries, against real haproxy and servers that die holding a request (skipped without haproxy).

A POST that reached a server is never sent to another one (the fan gets 502: it may have been applied); a GET
whose server died is sent again; a connection refused is retried whatever the method.
"""

import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.balancer import Balancer  # noqa: E402
from opslib.marquee_replicas import SERVICES  # noqa: E402
from opslib.net import free_ports, wait_port, wait_until  # noqa: E402
from opslib.paths import StateDir  # noqa: E402
from opslib.proc import Processes  # noqa: E402

# A server that answers health checks (503 on /readyz while <log>.unready exists) and anything else with 200,
# but on /api/v1/reservations writes one line to its log and dies without answering, as a replica killed
# mid-request.
SERVER = r"""
import http.server, os, sys
port, log = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/readyz" and os.path.exists(log + ".unready"):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/api/v1/reservations"):
            with open(log, "a") as f:
                f.write(f"{port} {self.command}\n")
            os._exit(1)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = answer
    do_POST = answer
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


class FakeReplicas:
    name = "marquee"

    def __init__(self, ports):
        self.ports = ports

    def servers(self):
        return {s: [(f"marquee-{s}-{i + 1}", p) for i, p in enumerate(self.ports[s])] for s in SERVICES}


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/setup-packages)")
class RetryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.state = StateDir(Path(self.folder.name)).make()
        self.procs = Processes(self.state)
        self.received = Path(self.folder.name) / "received"
        self.received.touch()
        # Booking and catalog have servers of their own; the other services' backends point at catalog's.
        ports = free_ports(4)
        self.ports = {s: ports[2:4] for s in SERVICES}
        self.ports["booking"] = ports[0:2]
        for service in ("booking", "catalog"):
            for i, port in enumerate(self.ports[service]):
                self.start_server(f"{service}-{i}", port)
        self.balancer = Balancer(FakeReplicas(self.ports), self.state)
        self.balancer.up()
        self.port = self.balancer.port()

    def start_server(self, name: str, port: int) -> None:
        self.procs.spawn(name, [sys.executable, "-c", SERVER, str(port), str(self.received)], ports={"http": port})
        wait_port(port, 10)

    def tearDown(self) -> None:
        for record in self.procs.records():
            self.procs.stop(record.name, timeout=5)
        self.folder.cleanup()

    def client(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(connection.close)
        return connection

    def receipts(self) -> list[str]:
        return self.received.read_text().split()

    def post_once(self, client: http.client.HTTPConnection) -> object:
        """The POST's status, or None when the balancer closed the connection without an answer."""
        client.request("POST", "/api/v1/reservations", body=b'{"scheduleId":1}', headers={"Content-Type": "application/json"})
        try:
            response = client.getresponse()
            response.read()
            return response.status
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None

    def test_a_post_a_server_received_is_not_sent_again(self) -> None:
        client = self.client()
        # The first request of a connection: the fan gets 502 (it may have been applied).
        self.assertEqual(self.post_once(client), 502)
        self.assertEqual(len(self.receipts()) // 2, 1, self.receipts())

    def test_a_post_later_on_a_kept_alive_connection_is_not_sent_again_either(self) -> None:
        client = self.client()
        client.request("GET", "/api/v1/concerts")
        response = client.getresponse()
        self.assertEqual(response.read(), b"{}")
        # Not the first request of its connection: haproxy closes the connection without an answer (a client
        # may retry an idempotent request on a closed persistent connection, RFC 9112 9.3.1), or answers 502;
        # either way the server saw the POST once and no other server saw it.
        self.assertIn(self.post_once(client), (None, 502))
        self.assertEqual(len(self.receipts()) // 2, 1, self.receipts())

    def test_a_get_whose_server_died_is_sent_to_the_other(self) -> None:
        client = self.client()
        client.request("GET", "/api/v1/reservations")
        response = client.getresponse()
        response.read()
        status = response.status
        # Both booking servers die on it: the GET was tried on each, and the fan gets 502 (or 503) only then.
        self.assertIn(status, (502, 503))
        self.assertEqual(sorted(self.receipts()[0::2]), sorted(str(p) for p in self.ports["booking"]))

    def test_a_refused_connection_is_retried_for_a_post(self) -> None:
        # The catalog's first server is gone (refused: kill9 returns once its socket is closed), the balancer has
        # not noticed yet: the POST goes to the second, once.
        self.procs.kill9("catalog-0")
        client = self.client()
        for _ in range(4):  # round robin: at least one of these is first sent to the dead server
            client.request("POST", "/api/v1/admin/concerts", body=b"{}")
            response = client.getresponse()
            response.read()
            self.assertEqual(response.status, 200)

    def test_when_every_replica_is_unready_they_still_get_the_requests(self) -> None:
        # A shared engine down makes every replica's /readyz fail at once: the balancer fails open, so Marquee
        # (not the balancer) answers, with its own 503 naming the engine, or serves what needs no such engine.
        Path(str(self.received) + ".unready").touch()
        wait_until(
            lambda: not any(self.balancer.is_up(f"marquee-catalog-{i}") for i in (1, 2)), 15, "catalog servers DOWN"
        )
        client = self.client()
        client.request("GET", "/api/v1/concerts")
        response = client.getresponse()
        self.assertEqual((response.status, response.read()), (200, b"{}"))

    def test_no_replica_at_all_is_a_503_problem_with_retry_after(self) -> None:
        for i in (0, 1):
            self.procs.kill9(f"catalog-{i}")
        client = self.client()
        client.request("GET", "/api/v1/concerts")
        response = client.getresponse()
        body = json.loads(response.read())
        self.assertEqual(response.status, 503)
        self.assertEqual(response.getheader("Content-Type"), "application/problem+json")
        self.assertEqual(response.getheader("Retry-After"), "1")
        self.assertEqual((body["status"], body["type"]), (503, "https://marquee.dev/problems/dependency-unavailable"))


if __name__ == "__main__":
    unittest.main()
