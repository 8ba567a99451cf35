"""Marquee's services split as Kubernetes runs them: `marquee --service=NAME`, two processes of each (issue 16).

Each replica listens on its own free loopback port and is recorded under the cluster's state folder as
`marquee-<service>-<n>` (run/marquee-booking-1.json: pid, argv, port), so the balancer (balancer.py) finds
the servers and the chaos runner (chaos.py) can `kill -9` one replica by name and start it again in its place,
on the same port. The services never call each other over HTTP: they share PostgreSQL, Redis and NATS, so a
split service needs nothing but the engines' URLs (deploy/k8s/base: one ConfigMap and one Secret for all).

The engines are the ones of `.local/cluster/env` when another component of scripts/cluster wrote it (Redis
Cluster seeds, a multi-host PostgreSQL URL, every NATS node), laid over `.local/env` of `./scripts/dev
services` (the single local engines, the JWT keys, the migrations and the web app's folder).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from .net import free_ports, http_status, wait_until
from .paths import BUILD, CLUSTER, ROOT, StateDir
from .proc import Processes

# The services of `marquee --service=`, in the order the Deployments of deploy/k8s/base/services list them.
SERVICES = ("auth", "queue", "catalog", "booking", "wallet", "payment", "gateway")

# The readiness path of each service's Deployment: the gateway reads no data service, so it is ready when it is
# up (/healthz); every other service when PostgreSQL, Redis and NATS answer (/readyz). A unit test checks
# these against deploy/k8s/base/services/*.yaml.
READINESS = {service: "/readyz" for service in SERVICES} | {"gateway": "/healthz"}

PREFIX = "marquee-"


def read_env_file(path: Path) -> dict[str, str]:
    """The `export NAME=VALUE` lines of an env file such as .local/env (shell quoting undone)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        name, sep, value = line.partition("=")
        if not sep or not name.isidentifier():
            continue
        parts = shlex.split(value, posix=True) if value else [""]
        values[name] = parts[0] if parts else ""
    return values


def engine_settings(state: StateDir = CLUSTER, root: Path = ROOT) -> dict[str, str]:
    """The MARQUEE_* settings the replicas run with: .local/env, then .local/cluster/env over it."""
    settings = read_env_file(root / ".local" / "env")
    settings.update(read_env_file(state.base / "env"))
    return settings


def replica_name(service: str, index: int) -> str:
    return f"{PREFIX}{service}-{index}"


def service_of(name: str) -> str:
    """The service of a replica name (marquee-booking-2 -> booking)."""
    return name[len(PREFIX) :].rsplit("-", 1)[0]


class MarqueeReplicas:
    """`replicas` processes of each service, on free loopback ports. A component of scripts/cluster."""

    name = "marquee"

    def __init__(
        self,
        state: StateDir = CLUSTER,
        replicas: int = 2,
        services: Sequence[str] = SERVICES,
        binary: Optional[Path] = None,
        extra_env: Optional[Mapping[str, str]] = None,
        settings: Optional[Callable[[], dict[str, str]]] = None,
    ) -> None:
        self.state = state
        self.procs = Processes(state)
        self.replicas = replicas
        self.services = tuple(services)
        self.binary = Path(binary or BUILD / "src" / "app" / "marquee")
        # Settings for every replica beyond the engines' (e.g. a short hold for the chaos run); the caller's
        # own environment wins over these, and passes through where the env files are silent.
        self.extra_env = dict(extra_env or {})
        self._settings = settings or (lambda: engine_settings(state))

    # ------------------------------------------------------------------ what runs

    def names(self) -> list[str]:
        return [replica_name(s, i) for s in self.services for i in range(1, self.replicas + 1)]

    def port(self, name: str) -> Optional[int]:
        record = self.procs.record(name)
        return record.ports.get("http") if record else None

    def servers(self) -> dict[str, list[tuple[str, int]]]:
        """service -> [(replica name, port)] of the recorded replicas (alive or killed, not stopped)."""
        found: dict[str, list[tuple[str, int]]] = {service: [] for service in self.services}
        for name in self.names():
            port = self.port(name)
            if port:
                found[service_of(name)].append((name, port))
        return found

    def ready(self, name: str) -> bool:
        port = self.port(name)
        return bool(port) and self.procs.alive(name) and http_status(
            f"http://127.0.0.1:{port}{READINESS[service_of(name)]}"
        ) == 200

    # ------------------------------------------------------------------ starting

    def environment(self) -> dict[str, str]:
        settings = self._settings()
        missing = [n for n in ("MARQUEE_DATABASE_URL", "MARQUEE_REDIS_URL", "MARQUEE_NATS_URL") if not settings.get(n)]
        if missing:
            raise RuntimeError(
                f"no engines: {', '.join(missing)} unset"
                " (run ./scripts/dev services, or the engines of scripts/cluster)"
            )
        env = dict(settings)
        env.setdefault("MARQUEE_MIGRATIONS_DIR", str(ROOT / "migrations"))
        env.setdefault("MARQUEE_OPENAPI_PATH", str(ROOT / "api" / "openapi.yaml"))
        env.setdefault("MARQUEE_WEB_DIR", str(ROOT / "web"))
        # Every connection comes from the balancer on loopback: it names the client in X-Forwarded-For.
        env.setdefault("MARQUEE_TRUSTED_PROXIES", "127.0.0.1")
        # Fourteen processes share the engines: the default pool (8) each would be 112 PostgreSQL connections.
        env.setdefault("MARQUEE_DB_POOL_SIZE", os.environ.get("MARQUEE_DB_POOL_SIZE", "4"))
        env.setdefault("MARQUEE_THREADS", os.environ.get("MARQUEE_THREADS", "1"))
        for name, value in self.extra_env.items():
            env[name] = os.environ.get(name, value)
        # The migrations run once, before the replicas start (as the migration Job does); never in a replica.
        env["MARQUEE_MIGRATE"] = "false"
        return env

    def migrate(self, env: Mapping[str, str]) -> None:
        result = subprocess.run(
            [str(self.binary), "--migrate-only"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"marquee --migrate-only failed:\n{result.stdout[-2000:]}")

    def _argv(self, service: str, port: int) -> list[str]:
        return [str(self.binary), f"--service={service}", "--host=127.0.0.1", f"--port={port}"]

    def start(self, name: str, port: int, env: Optional[Mapping[str, str]] = None) -> None:
        self.procs.spawn(name, self._argv(service_of(name), port), ports={"http": port}, env=env or self.environment())

    def wait_ready(self, names: Sequence[str], timeout: float = 60.0) -> None:
        def all_ready() -> bool:
            for n in names:
                if not self.procs.alive(n):
                    raise RuntimeError(f"{n} exited; see {self.state.log_of(n)}")
            return all(self.ready(n) for n in names)

        wait_until(all_ready, timeout, f"{', '.join(names)} ready", every=0.2)

    def up(self) -> None:
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} is missing: build first (cmake --build build)")
        env = self.environment()
        migrate_env = {**env, "MARQUEE_SERVICE": "all"}
        self.migrate(migrate_env)
        names = [n for n in self.names() if not self.procs.alive(n)]
        claimed = [r.ports.get("http", 0) for r in self.procs.records()]
        for name, port in zip(names, free_ports(len(names), claimed)):
            self.start(name, port, env)
        self.wait_ready(self.names())

    def down(self) -> None:
        for name in reversed(self.names()):
            self.procs.stop(name, timeout=15)

    def status(self) -> list[str]:
        lines = []
        for name in self.names():
            record = self.procs.record(name)
            if record is None:
                lines.append(f"{name}: not started")
                continue
            state = "ready" if self.ready(name) else ("up, not ready" if self.procs.alive(name) else "dead")
            lines.append(f"{name}: pid {record.pid}, http://127.0.0.1:{record.ports.get('http')} ({state})")
        return lines

    # ------------------------------------------------------------------ chaos

    def kill9(self, name: str) -> bool:
        """`kill -9` of one replica, as a crash; its record (and port) stay for `restart`."""
        return self.procs.kill9(name)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Starts a killed replica again on its own port and waits until it is ready."""
        port = self.port(name)
        if not port:
            raise RuntimeError(f"{name} was never started")
        if not self.procs.alive(name):
            self.start(name, port)
        self.wait_ready([name], timeout)

    def failures(self) -> list:
        """One failure per service: `kill -9` of its first replica, then a restart (chaos.py)."""
        from .chaos import Failure  # noqa: PLC0415 -- chaos imports nothing of this module at load

        out = []
        for service in self.services:
            name = replica_name(service, 1)
            out.append(
                Failure(
                    name=f"{service} replica (kill -9)",
                    component=self.name,
                    node=name,
                    kill=lambda n=name: self.kill9(n),
                    restore=lambda n=name: self.restart(n),
                )
            )
        return out
