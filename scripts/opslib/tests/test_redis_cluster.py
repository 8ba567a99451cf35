"""The Redis Cluster component's pure parts: CLUSTER NODES/INFO parsing, the env file, ports, command lines; and
that a redis-server, which rewrites its process title, is still recognised as the recorded process."""

import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.net import free_port, wait_port  # noqa: E402
from opslib.paths import StateDir  # noqa: E402
from opslib.proc import Processes  # noqa: E402
from opslib.redis_cluster import (  # noqa: E402
    BUS_OFFSET,
    RedisCluster,
    cluster_ports,
    drop_env_line,
    live_primaries,
    parse_cluster_info,
    parse_cluster_nodes,
    server_argv,
    set_env_line,
)

NODES = """\
511e8 127.0.0.1:21041@31041 slave 2a2fe 0 1796585584081 2 connected
aba36 127.0.0.1:21408@31408 myself,master - 0 1796585583000 1 connected 0-5460
ab8d4 127.0.0.1:21471@31471 slave 787fa 0 1796585584081 3 connected
787fa 127.0.0.1:21611@31611 master,fail - 1796585584000 1796585584081 3 disconnected
02edc 127.0.0.1:22611@32611 master - 0 1796585584081 4 connected 10923-16383
2a2fe 127.0.0.1:20477@30477 master - 0 1796585584000 2 connected 5461-10922
"""


class ParsingTest(unittest.TestCase):
    def test_cluster_nodes_are_read_with_roles_and_slots(self) -> None:
        nodes = parse_cluster_nodes(NODES)
        self.assertEqual(len(nodes), 6)
        me = next(n for n in nodes if n["id"] == "aba36")
        self.assertEqual((me["host"], me["port"]), ("127.0.0.1", 21408))
        self.assertIn("master", me["flags"])
        self.assertEqual(me["slots"], ["0-5460"])
        self.assertEqual(next(n for n in nodes if n["id"] == "511e8")["primary"], "2a2fe")

    def test_a_failed_primary_without_slots_is_not_live(self) -> None:
        ports = sorted(n["port"] for n in live_primaries(parse_cluster_nodes(NODES)))
        self.assertEqual(ports, [20477, 21408, 22611])

    def test_cluster_info_fields(self) -> None:
        info = parse_cluster_info("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n")
        self.assertEqual(info["cluster_state"], "ok")
        self.assertEqual(info["cluster_slots_assigned"], "16384")


class EnvFileTest(unittest.TestCase):
    def test_the_seed_line_replaces_its_own_and_keeps_the_others(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            env = Path(folder) / "env"
            env.write_text("export MARQUEE_NATS_URL=nats://a,nats://b\nexport MARQUEE_REDIS_CLUSTER=old\n")
            set_env_line(env, "MARQUEE_REDIS_CLUSTER", "127.0.0.1:1,127.0.0.1:2")
            lines = env.read_text().splitlines()
            self.assertIn("export MARQUEE_NATS_URL=nats://a,nats://b", lines)
            self.assertIn("export MARQUEE_REDIS_CLUSTER=127.0.0.1:1,127.0.0.1:2", lines)
            self.assertEqual(sum(line.startswith("export MARQUEE_REDIS_CLUSTER=") for line in lines), 1)
            drop_env_line(env, "MARQUEE_REDIS_CLUSTER")
            self.assertEqual(env.read_text(), "export MARQUEE_NATS_URL=nats://a,nats://b\n")


class CommandLineTest(unittest.TestCase):
    def test_ports_are_distinct_and_their_bus_ports_are_below_the_ephemeral_range(self) -> None:
        ports = cluster_ports(6)
        self.assertEqual(len(set(ports)), 6)
        self.assertTrue(all(port + BUS_OFFSET < 32768 for port in ports))

    def test_nodes_run_in_cluster_mode_with_aof_everysec(self) -> None:
        argv = server_argv(7000, Path("/tmp/x"), 2000, appendonly=True)
        pairs = dict(zip(argv[1::2], argv[2::2]))
        self.assertEqual(pairs["--cluster-enabled"], "yes")
        self.assertEqual(pairs["--appendonly"], "yes")
        self.assertEqual(pairs["--appendfsync"], "everysec")
        self.assertEqual(pairs["--cluster-node-timeout"], "2000")
        self.assertEqual(pairs["--daemonize"], "no")
        self.assertEqual(pairs["--cluster-require-full-coverage"], "no")

    def test_an_empty_state_reports_not_running(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            self.assertEqual(RedisCluster(StateDir(Path(folder))).status(), ["not running"])


class ChaosOfferTest(unittest.TestCase):
    def test_the_component_offers_the_kill_of_a_primary(self) -> None:
        try:
            import opslib.chaos  # noqa: F401,PLC0415
        except ImportError:
            self.skipTest("opslib.chaos (the chaos runner) is not in this tree")
        with tempfile.TemporaryDirectory() as folder:
            offered = RedisCluster(StateDir(Path(folder))).failures()
        self.assertEqual([f.component for f in offered], ["redis"])
        self.assertIn("redis primary", offered[0].name)
        self.assertTrue(callable(offered[0].kill) and callable(offered[0].restore))


@unittest.skipIf(shutil.which("redis-server") is None, "redis-server not installed")
class RetitledProcessTest(unittest.TestCase):
    def test_a_redis_server_is_recognised_after_it_rewrites_its_title(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            procs = Processes(StateDir(Path(folder)))
            port = free_port()
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder]
            procs.spawn("plain", argv, ports={"redis": port})
            try:
                wait_port(port, 10)
                self.assertTrue(procs.alive("plain"))
            finally:
                procs.stop("plain", timeout=10)
            self.assertFalse(procs.alive("plain"))


if __name__ == "__main__":
    unittest.main()
