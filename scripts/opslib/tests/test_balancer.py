"""The balancer routes as the Ingress does: its haproxy.cfg is checked against deploy/k8s/base/ingress.yaml."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.balancer import (  # noqa: E402
    INGRESS,
    Route,
    ingress_routes,
    nginx_order,
    parse_ingress,
    readiness_paths,
    render_config,
    route,
)
from opslib.marquee_replicas import READINESS, SERVICES, MarqueeReplicas, read_env_file  # noqa: E402
from opslib.paths import StateDir  # noqa: E402

SERVERS = {service: [(f"marquee-{service}-1", 20001), (f"marquee-{service}-2", 20002)] for service in SERVICES}


def haproxy_rules(cfg: str) -> list[tuple[str, str]]:
    """(regex, backend) of the generated frontend, in the order haproxy tries them."""
    acls = dict(re.findall(r"^\s+acl (\S+) path_reg -i (\S+)$", cfg, flags=re.M))
    uses = re.findall(r"^\s+use_backend (\S+) if (\S+)$", cfg, flags=re.M)
    return [(acls[acl], backend) for backend, acl in uses]


def haproxy_route(rules: list[tuple[str, str]], path: str):
    for regex, backend in rules:
        if re.match(regex.replace("\\\\", "\\"), path, flags=re.IGNORECASE):
            return backend
    return None


def kustomize_ingress_paths() -> list[tuple[str, str]]:
    """(path, service) of the Ingress as `kubectl kustomize` renders the dev overlay (YAML with sorted keys, read
    by the same tiny reader)."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(INGRESS.parents[1] / "overlays" / "dev")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for document in out.split("\n---\n"):
        if re.search(r"^kind: Ingress$", document, flags=re.M):
            return [(r.path, r.service) for r in parse_ingress(document)]
    raise AssertionError("no Ingress in the rendered overlay")


class IngressTest(unittest.TestCase):
    def test_the_reader_finds_every_rule_of_the_ingress(self) -> None:
        routes = ingress_routes()
        text = INGRESS.read_text()
        self.assertEqual(len(routes), text.count("- path:"))
        self.assertIn(Route("/api/v1/schedules/[0-9]+/queue(/challenge)?$", "queue"), routes)
        self.assertIn(Route("/api/v1/schedules/", "catalog"), routes)
        self.assertIn(Route("/$", "gateway"), routes)
        self.assertEqual({r.service for r in routes}, set(SERVICES))

    def test_the_reader_refuses_a_path_without_a_service(self) -> None:
        with self.assertRaises(ValueError):
            parse_ingress("spec:\n  rules:\n    - http:\n        paths:\n          - path: /x\n")

    def test_nginx_order_puts_the_queue_join_before_the_catalog_prefix(self) -> None:
        routes = ingress_routes()
        self.assertEqual(route(routes, "/api/v1/schedules/42/queue"), "queue")
        self.assertEqual(route(routes, "/api/v1/schedules/42/seats"), "catalog")
        self.assertEqual(route(routes, "/api/v1/schedules/42/queue/x"), "catalog")
        # ADR 0026: the proof-of-work challenge is the queue's too.
        self.assertEqual(route(routes, "/api/v1/schedules/42/queue/challenge"), "queue")
        self.assertEqual(route(routes, "/api/v1/schedules/42/queue/challengex"), "catalog")
        self.assertEqual(route(routes, "/"), "gateway")
        self.assertIsNone(route(routes, "/healthz"))
        self.assertIsNone(route(routes, "/metrics"))
        lengths = [len(r.path) for r in nginx_order(routes)]
        self.assertEqual(lengths, sorted(lengths, reverse=True))

    @unittest.skipUnless(shutil.which("kubectl"), "kubectl (Debian's kubernetes-client) is not installed")
    def test_the_rendered_overlay_has_the_same_paths_as_the_base(self) -> None:
        self.assertEqual(kustomize_ingress_paths(), [(r.path, r.service) for r in ingress_routes()])


class HaproxyConfigTest(unittest.TestCase):
    def setUp(self) -> None:
        self.routes = ingress_routes()
        self.cfg = render_config(self.routes, SERVERS, 18080, Path("/tmp/haproxy-test.sock"))

    def test_the_rules_are_the_ingress_paths_in_nginx_order(self) -> None:
        expected = [("^" + r.path, r.service) for r in nginx_order(self.routes)]
        self.assertEqual(haproxy_rules(self.cfg), expected)

    def test_every_probe_path_reaches_the_same_service_as_through_the_ingress(self) -> None:
        rules = haproxy_rules(self.cfg)
        probes = [
            "/", "/app/", "/app/app.js", "/openapi.yaml", "/healthz", "/readyz", "/metrics", "/index.html",
            "/api/v1/auth/login", "/api/v1/auth/me", "/api/v1/queue/me", "/api/v1/queue/me/events",
            "/api/v1/schedules/7/queue", "/api/v1/schedules/7/queue/", "/api/v1/schedules/7/seat-map",
            "/api/v1/schedules/7/queue/challenge",
            "/api/v1/schedules/7/availability", "/api/v1/concerts", "/api/v1/concerts/3/schedules",
            "/api/v1/admin/concerts", "/api/v1/wallet", "/api/v1/wallet/charges/9", "/api/v1/reservations",
            "/api/v1/reservations/abc", "/api/v1/payments", "/API/V1/WALLET", "/api/v2/concerts",
        ]
        for path in probes:
            with self.subTest(path=path):
                self.assertEqual(haproxy_route(rules, path), route(self.routes, path))

    def test_each_backend_has_its_replicas_and_its_deployments_readiness_path(self) -> None:
        for service in SERVICES:
            block = self.cfg.split(f"\nbackend {service}\n", 1)[1].split("\nbackend ", 1)[0]
            self.assertIn(f"option httpchk GET {READINESS[service]}", block)
            self.assertIn(f"server marquee-{service}-1 127.0.0.1:20001 check", block)
            self.assertIn(f"server marquee-{service}-2 127.0.0.1:20002 check", block)

    def test_the_readiness_paths_are_the_deployments(self) -> None:
        self.assertEqual(readiness_paths(), READINESS)

    def test_only_get_is_retried_once_sent(self) -> None:
        self.assertIn("retry-on conn-failure empty-response", self.cfg)
        self.assertIn("http-request disable-l7-retry unless METH_GET", self.cfg)

    def test_an_unrouted_path_is_refused_before_any_backend(self) -> None:
        refuse = self.cfg.index("http-request return status 404")
        self.assertLess(refuse, self.cfg.index("use_backend"))

    @unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/setup-packages)")
    def test_haproxy_accepts_the_config(self) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as cfg:
            cfg.write(self.cfg)
            cfg.flush()
            check = subprocess.run(
                ["haproxy", "-c", "-f", cfg.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        self.assertEqual(check.returncode, 0, check.stdout)
        self.assertNotIn("WARNING", check.stdout)


class ReplicasTest(unittest.TestCase):
    def test_env_files_are_read_with_their_quoting(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            env = Path(folder) / "env"
            env.write_text("# comment\nexport A=1\nexport B='x y'\nC=plain\nnot a line\n")
            self.assertEqual(read_env_file(env), {"A": "1", "B": "x y", "C": "plain"})

    def test_cluster_settings_win_over_the_local_ones(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / ".local" / "cluster").mkdir(parents=True)
            (root / ".local" / "env").write_text(
                "export MARQUEE_DATABASE_URL=postgresql://a\nexport MARQUEE_REDIS_URL=redis://one\n"
                "export MARQUEE_NATS_URL=nats://one\n"
            )
            (root / ".local" / "cluster" / "env").write_text("export MARQUEE_REDIS_URL=redis://seed1,redis://seed2\n")
            from opslib.marquee_replicas import engine_settings

            settings = engine_settings(StateDir(root / ".local" / "cluster"), root)
            self.assertEqual(settings["MARQUEE_REDIS_URL"], "redis://seed1,redis://seed2")
            self.assertEqual(settings["MARQUEE_DATABASE_URL"], "postgresql://a")

    def test_the_replicas_never_migrate_and_trust_the_balancer(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            replicas = MarqueeReplicas(
                StateDir(Path(folder)),
                settings=lambda: {"MARQUEE_DATABASE_URL": "d", "MARQUEE_REDIS_URL": "r", "MARQUEE_NATS_URL": "n",
                                  "MARQUEE_MIGRATE": "true"},
            )
            env = replicas.environment()
            self.assertEqual(env["MARQUEE_MIGRATE"], "false")
            self.assertEqual(env["MARQUEE_TRUSTED_PROXIES"], "127.0.0.1")
            self.assertEqual(len(replicas.names()), 2 * len(SERVICES))
            self.assertEqual([f.node for f in replicas.failures()], [f"marquee-{s}-1" for s in SERVICES])

    def test_the_callers_environment_wins_over_the_sale_settings(self) -> None:
        engines = {"MARQUEE_DATABASE_URL": "d", "MARQUEE_REDIS_URL": "r", "MARQUEE_NATS_URL": "n"}
        with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {"MARQUEE_HOLD_TTL_S": "300"}):
            replicas = MarqueeReplicas(
                StateDir(Path(folder)),
                extra_env={"MARQUEE_HOLD_TTL_S": "30", "MARQUEE_QUEUE_MAX_ACTIVE": "200"},
                settings=lambda: dict(engines),
            )
            env = replicas.environment()
        self.assertEqual(env["MARQUEE_HOLD_TTL_S"], "300")
        self.assertEqual(env["MARQUEE_QUEUE_MAX_ACTIVE"], os.environ.get("MARQUEE_QUEUE_MAX_ACTIVE", "200"))

    def test_no_engines_is_an_error_that_says_what_to_run(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            replicas = MarqueeReplicas(StateDir(Path(folder)), settings=dict)
            with self.assertRaisesRegex(RuntimeError, "scripts/dev services"):
                replicas.environment()


if __name__ == "__main__":
    unittest.main()
