"""The PostgreSQL-failover and NATS-cluster components' files, without starting anything: the env file other
components share, the multi-host URL, Patroni's settings and the NATS routes."""

import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.cluster_env import read_env, update_env  # noqa: E402
from opslib.nats_cluster import NatsCluster  # noqa: E402
from opslib.paths import StateDir  # noqa: E402
from opslib.pg_failover import PgFailover  # noqa: E402


class ClusterEnvTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.env = Path(self.folder.name) / "env"

    def tearDown(self) -> None:
        self.folder.cleanup()

    def test_a_component_sets_its_names_and_keeps_the_others(self) -> None:
        update_env(self.env, {"MARQUEE_REDIS_URL": "redis://127.0.0.1:7000"})
        update_env(self.env, {"MARQUEE_DATABASE_URL": "host=a,b port=1,2 target_session_attrs=read-write"})
        update_env(self.env, {"MARQUEE_DATABASE_URL": "host=c"})
        self.assertEqual(
            read_env(self.env), {"MARQUEE_REDIS_URL": "redis://127.0.0.1:7000", "MARQUEE_DATABASE_URL": "host=c"}
        )

    def test_none_removes_a_name(self) -> None:
        update_env(self.env, {"MARQUEE_NATS_URL": "nats://x:1,nats://y:2", "MARQUEE_NATS_STREAM_REPLICAS": "3"})
        update_env(self.env, {"MARQUEE_NATS_URL": None, "MARQUEE_NATS_STREAM_REPLICAS": None})
        self.assertEqual(read_env(self.env), {})

    def test_values_with_blanks_survive_the_shell(self) -> None:
        url = "host=127.0.0.1,127.0.0.1 port=5432,5433 dbname=marquee target_session_attrs=read-write"
        update_env(self.env, {"MARQUEE_DATABASE_URL": url})
        self.assertIn("'", self.env.read_text())
        self.assertEqual(read_env(self.env)["MARQUEE_DATABASE_URL"], url)


class ComponentFilesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.state = StateDir(Path(self.folder.name))

    def tearDown(self) -> None:
        self.folder.cleanup()

    def test_the_database_url_lists_every_node_and_wants_the_read_write_one(self) -> None:
        pg = PgFailover(self.state, nodes=3)
        ports = [node["pg"] for node in pg.topology()["nodes"]]
        self.assertEqual(len(set(ports)), 3)
        url = pg.url()
        self.assertIn("host=127.0.0.1,127.0.0.1,127.0.0.1 ", url)
        self.assertIn("port=" + ",".join(map(str, ports)) + " ", url)
        self.assertIn("target_session_attrs=read-write", url)
        self.assertEqual(PgFailover(self.state, nodes=3).url(), url, "ports are kept across runs")

    def test_patroni_runs_strict_synchronous_mode_on_etcds_v3_api(self) -> None:
        pg = PgFailover(self.state)
        node = pg.topology()["nodes"][0]
        config = json.loads(pg._config(node).read_text())  # JSON is what Patroni reads as YAML
        dcs = config["bootstrap"]["dcs"]
        self.assertTrue(dcs["synchronous_mode"])
        self.assertTrue(dcs["synchronous_mode_strict"])
        self.assertLessEqual(dcs["loop_wait"] + 2 * dcs["retry_timeout"], dcs["ttl"])
        self.assertIn("etcd3", config)
        self.assertNotIn("etcd", config)
        self.assertEqual(config["postgresql"]["listen"], f"127.0.0.1:{node['pg']}")

    def test_each_nats_node_routes_to_the_two_others(self) -> None:
        nats = NatsCluster(self.state)
        nodes = nats.topology()["nodes"]
        text = nats._config(nodes[0]).read_text()
        self.assertIn(f'listen: "127.0.0.1:{nodes[0]["client"]}"', text)
        for other in nodes[1:]:
            self.assertIn(f"nats-route://127.0.0.1:{other['route']}", text)
        self.assertNotIn(f"nats-route://127.0.0.1:{nodes[0]['route']}", text)
        self.assertEqual(nats.urls().count("nats://"), 3)


if __name__ == "__main__":
    unittest.main()
