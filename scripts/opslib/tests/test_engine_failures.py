"""The engines' failures for the chaos run (redis_cluster.py, pg_failover.py, nats_cluster.py `failures()`), their
order of steps and their `recovered()` predicates, with the engines replaced by fakes: which node is killed, that
the old node is restarted only after the promotion, and what counts as recovered."""

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.nats_cluster import NatsCluster  # noqa: E402
from opslib.paths import StateDir  # noqa: E402
from opslib.pg_failover import PgFailover  # noqa: E402
from opslib.redis_cluster import RedisCluster, parse_cluster_nodes  # noqa: E402


class Steps(list):
    def __call__(self, *step):
        self.append(step)


class RedisFailureTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.cluster = RedisCluster(StateDir(Path(self.folder.name)))
        self.steps = Steps()
        self.view = ""  # CLUSTER NODES as the survivors see it
        self.cluster.kill_primary = lambda name=None: self.steps("kill", name) or name
        self.cluster.primary_names = lambda: ["redis-0", "redis-1", "redis-2"]
        self.rates = {7000: 40, 7001: 9000, 7002: 35}  # redis-1 serves the hot schedule's slot
        self.cluster.cli = lambda port, *args, timeout=5.0: f"# Stats\r\ninstantaneous_ops_per_sec:{self.rates[port]}\r\n"
        self.cluster.wait_promoted = lambda victim, timeout=30: self.steps("promoted?", victim) or "redis-3"
        self.cluster.restart = lambda name, timeout=30: self.steps("restart", name)
        self.cluster.wait_ok = lambda timeout: None
        self.cluster.nodes = lambda port=None: parse_cluster_nodes(self.view)
        self.cluster.port_of = lambda name: {"redis-0": 7000, "redis-1": 7001, "redis-2": 7002, "redis-3": 7003}[name]
        self.cluster.procs.alive = lambda name: True

    def tearDown(self) -> None:
        self.folder.cleanup()

    def test_the_busiest_primary_is_killed_then_restarted_after_its_replica_took_over_and_recovers_as_a_replica(self) -> None:
        (failure,) = self.cluster.failures()
        failure.kill()
        failure.restore()
        self.assertEqual(self.steps, [("kill", "redis-1"), ("promoted?", "redis-1"), ("restart", "redis-1")])
        # The restarted node is still a primary in the cluster's eyes (no slots yet): not recovered.
        self.view = "a 127.0.0.1:7001@17001 master - 0 0 1 connected\nb 127.0.0.1:7003@17003 myself,master - 0 0 2 connected 0-5460\n"
        self.assertFalse(failure.recovered())
        self.view = "a 127.0.0.1:7001@17001 slave b 0 0 1 connected\nb 127.0.0.1:7003@17003 myself,master - 0 0 2 connected 0-5460\n"
        self.assertTrue(failure.recovered())
        self.cluster.wait_ok = lambda timeout: (_ for _ in ()).throw(RuntimeError("cluster_state:fail"))
        self.assertFalse(failure.recovered())


class PostgresFailureTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.pg = PgFailover(StateDir(Path(self.folder.name)))
        self.steps = Steps()
        self.pg.kill_primary = lambda: self.steps("kill", "pg0") or {"node": "pg0", "killed_at": 1.0}
        self.pg.wait_promotion = lambda old, timeout=90: self.steps("promoted?", old) or {"node": "pg1"}
        self.pg.restore = lambda name, timeout=90: self.steps("restore", name) or {"node": name}
        self.leader = {"name": "pg1"}
        self.members = [{"name": "pg1", "role": "leader"}, {"name": "pg0", "role": "replica", "state": "streaming"}]
        self.pg.primary = lambda: self.leader
        self.pg.members = lambda: self.members

    def tearDown(self) -> None:
        self.folder.cleanup()

    def test_the_old_primary_rejoins_only_after_the_standby_is_promoted_and_recovery_needs_a_sync_standby(self) -> None:
        (failure,) = self.pg.failures()
        self.assertEqual(failure.down_s, 0.0)  # restore() itself waits for the promotion
        failure.kill()
        failure.restore()
        self.assertEqual(self.steps, [("kill", "pg0"), ("promoted?", "pg0"), ("restore", "pg0")])
        self.assertFalse(failure.recovered())  # a replica, not yet the synchronous standby: commits would wait
        self.members[1]["role"] = "sync_standby"
        self.assertTrue(failure.recovered())
        self.leader = None
        self.assertFalse(failure.recovered())


class NatsFailureTest(unittest.TestCase):
    def test_the_stream_leader_is_killed_and_recovery_needs_every_node_healthy(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            nats = NatsCluster(StateDir(Path(folder)))
            steps = Steps()
            healthy = {"n0": True, "n1": True, "n2": True}
            nats.topology = lambda: {"nodes": [{"name": n} for n in healthy]}
            nats.stream_leader = lambda stream: "n2"
            nats.kill = lambda name: steps("kill", name) or {"node": name}
            nats.restore = lambda name: steps("restore", name) or {"node": name}
            nats.healthy = lambda node: healthy[node["name"]]
            (failure,) = nats.failures()
            failure.kill()
            healthy["n2"] = False
            self.assertFalse(failure.recovered())
            failure.restore()
            healthy["n2"] = True
            self.assertTrue(failure.recovered())
            self.assertEqual(steps, [("kill", "n2"), ("restore", "n2")])


if __name__ == "__main__":
    unittest.main()
