#!/usr/bin/env python3
"""PostgreSQL with automatic failover for scripts/cluster: Patroni + etcd, a primary and a synchronous standby.

docs/decisions/0021-postgres-failover.md says why Patroni (Debian's `patroni`, `etcd-server`) and how it is set:
one etcd on loopback (v3 API: `etcd3:` in Patroni's config), two Patroni nodes each running a PostgreSQL 15,
`synchronous_mode` + `synchronous_mode_strict` (a commit returns only once the standby has flushed it, and no
commit is ever acknowledged on one node alone), ttl 10 s so a dead primary is replaced in about ten seconds.

State: .local/cluster/data/postgres/ (topology.json with the ports, etcd/, pg0/ pg1/ data folders owned by the
`postgres` user, which PostgreSQL needs: it refuses to run as root), process records in .local/cluster/run/
(pg-etcd, pgN-patroni, pgN-postgres: the postmaster, read from its postmaster.pid), logs in .local/cluster/logs/.
Marquee's URL lists every node, with target_session_attrs=read-write, in .local/cluster/env as
MARQUEE_DATABASE_URL.

Also a command line of its own, for tests and drills:
  pg_failover.py up | down | status | url | primary | kill-primary | restore NODE | drill | switchover
`kill-primary` kill -9s the primary's Patroni and postmaster (by their recorded pids) and prints JSON with the
node and the time; `restore` starts that node's Patroni again, which rejoins as a standby (pg_rewind when
needed); `drill` does both and prints the measured times (`drill --writes`: also the write outage a client inserting every
100 ms sees). MARQUEE_CLUSTER_PG_NODES=3 (on a fresh state, MARQUEE_CLUSTER_STATE=folder) runs three nodes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from opslib.cluster_env import update_env  # noqa: E402
    from opslib.net import free_ports, http_json, is_port_open, wait_port, wait_until  # noqa: E402
    from opslib.paths import CLUSTER, StateDir  # noqa: E402
    from opslib.proc import Processes  # noqa: E402
else:
    from .cluster_env import update_env
    from .net import free_ports, http_json, is_port_open, wait_port, wait_until
    from .paths import CLUSTER, StateDir
    from .proc import Processes

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PATRONI = Path("/usr/bin/patroni")
PYTHON = Path("/usr/bin/python3")  # patroni's interpreter: what /proc/<pid>/cmdline names
SCOPE = "marquee"
# Failure detection: the leader key lives `ttl` seconds in etcd; Patroni runs its loop every `loop_wait`
# seconds; loop_wait + 2 * retry_timeout <= ttl, as Patroni requires. Measured times: docs/reliability.md.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 2, 4
WAIT_S = 90.0


def log(message: str) -> None:
    print(f"[postgres] {message}", file=sys.stderr, flush=True)


class PgFailover:
    """The `postgres` component of scripts/cluster."""

    name = "postgres"

    def __init__(self, state: StateDir = CLUSTER, nodes: int = 2) -> None:
        self.state = state
        self.nodes = nodes
        self.base = state.base / "data" / "postgres"
        self.topology_path = self.base / "topology.json"
        self.env_path = state.base / "env"

    # -- topology ---------------------------------------------------------------------------------------------
    @property
    def procs(self) -> Processes:
        return Processes(self.state)

    def topology(self) -> dict:
        """Ports chosen on the first `up` and kept, so the URL Marquee holds stays right across restarts."""
        if self.topology_path.exists():
            return json.loads(self.topology_path.read_text())
        ports = free_ports(2 + 2 * self.nodes)
        topology = {
            "etcd": {"client": ports[0], "peer": ports[1]},
            "nodes": [
                {"name": f"pg{i}", "pg": ports[2 + 2 * i], "rest": ports[3 + 2 * i]} for i in range(self.nodes)
            ],
        }
        self.base.mkdir(parents=True, exist_ok=True)
        self.topology_path.write_text(json.dumps(topology, indent=2))
        return topology

    def url(self) -> str:
        nodes = self.topology()["nodes"]
        hosts = ",".join("127.0.0.1" for _ in nodes)
        ports = ",".join(str(node["pg"]) for node in nodes)
        return (
            f"host={hosts} port={ports} dbname=marquee user=marquee "
            "target_session_attrs=read-write connect_timeout=2"
        )

    def node(self, name: str) -> dict:
        for node in self.topology()["nodes"]:
            if node["name"] == name:
                return node
        raise KeyError(f"no PostgreSQL node {name}")

    # -- files ------------------------------------------------------------------------------------------------
    def _as_postgres(self) -> bool:
        return os.geteuid() == 0

    def _own(self, path: Path) -> None:
        if self._as_postgres():
            shutil.chown(path, "postgres", "postgres")

    def _pg_home(self) -> Path:
        """Where the nodes' data lives: under .local/cluster when the postgres user can reach it, else a
        private folder under /tmp linked from there (a checkout below /root, say)."""
        home = self.base / "nodes"
        if home.is_symlink() and not home.exists():
            home.unlink()
        if not home.exists():
            reachable = True
            if self._as_postgres():
                probe = subprocess.run(
                    ["runuser", "-u", "postgres", "--", "test", "-x", str(self.base)], cwd="/", check=False
                )
                reachable = probe.returncode == 0
            if reachable:
                home.mkdir(mode=0o700, parents=True)
            else:
                real = Path(subprocess.check_output(["mktemp", "-d", "/tmp/marquee-cluster-pg.XXXXXX"], text=True).strip())
                home.symlink_to(real)
            self._own(home.resolve())
        return home.resolve()

    def _config(self, node: dict) -> Path:
        home = self._pg_home()
        topology = self.topology()
        data = home / node["name"]
        sockets = home / "sockets"
        for folder in (sockets,):
            folder.mkdir(mode=0o700, exist_ok=True)
            self._own(folder)
        config = {
            "scope": SCOPE,
            "namespace": "/marquee-cluster/",
            "name": node["name"],
            "restapi": {
                "listen": f"127.0.0.1:{node['rest']}",
                "connect_address": f"127.0.0.1:{node['rest']}",
            },
            "etcd3": {"hosts": f"127.0.0.1:{topology['etcd']['client']}"},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "synchronous_mode_strict": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_log_hints": "on",
                            "synchronous_commit": "on",
                            "max_connections": 200,
                            "shared_buffers": "128MB",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "256MB",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node['pg']}",
                "connect_address": f"127.0.0.1:{node['pg']}",
                "data_dir": str(data),
                "bin_dir": str(PG_BIN),
                "pgpass": str(home / f"{node['name']}.pgpass"),
                "parameters": {"unix_socket_directories": str(sockets)},
                # A loopback lab: trust on 127.0.0.1 (as scripts/lib/services.sh does); Patroni still wants names.
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                    "rewind": {"username": "rewinder", "password": "rewinder"},
                },
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }
        path = home / f"{node['name']}.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML: Patroni reads it as it is
        self._own(path)
        return path

    # -- processes --------------------------------------------------------------------------------------------
    def _start_etcd(self) -> None:
        if self.procs.alive("pg-etcd"):
            return
        etcd = self.topology()["etcd"]
        client, peer = f"http://127.0.0.1:{etcd['client']}", f"http://127.0.0.1:{etcd['peer']}"
        data = self.base / "etcd"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            shutil.which("etcd") or "/usr/bin/etcd",
            "--name", "e0", "--data-dir", str(data),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"e0={peer}",
        ]  # fmt: skip
        self.procs.spawn("pg-etcd", argv, ports={"client": etcd["client"], "peer": etcd["peer"]})
        wait_port(etcd["client"], 30, "etcd")

    def _start_patroni(self, node: dict) -> None:
        name = f"{node['name']}-patroni"
        if self.procs.alive(name):
            return
        config = self._config(node)
        argv = [str(PYTHON), str(PATRONI), str(config)]
        log_file = open(self.state.log_of(name), "ab")  # noqa: SIM115 -- handed to the child
        with log_file:
            extra = {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_postgres() else {}
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd="/",
                env={**os.environ, "HOME": str(self._pg_home()), "PATH": f"{PG_BIN}:{os.environ.get('PATH', '')}"},
                start_new_session=True,
                close_fds=True,
                **extra,
            )
        self.procs.adopt(name, child.pid, argv, ports={"pg": node["pg"], "rest": node["rest"]})

    def _record_postmaster(self, node: dict) -> Optional[int]:
        """Records the node's postmaster (the first line of its postmaster.pid) once it answers."""
        pid_file = self._pg_home() / node["name"] / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        self.procs.adopt(f"{node['name']}-postgres", pid, [str(PG_BIN / "postgres")], ports={"pg": node["pg"]})
        return pid if self.procs.alive(f"{node['name']}-postgres") else None

    def role(self, node: dict) -> str:
        """Patroni's view of the node: master/primary, replica, or '' when its REST API does not answer."""
        status, body = http_json(f"http://127.0.0.1:{node['rest']}/patroni")
        if status == 0 or body.get("state") != "running":
            return ""
        return "primary" if body.get("role") in ("master", "primary") else str(body.get("role", ""))

    def primary(self) -> Optional[dict]:
        for node in self.topology()["nodes"]:
            if http_json(f"http://127.0.0.1:{node['rest']}/primary")[0] == 200:
                return node
        return None

    def members(self) -> list[dict]:
        """Patroni's member list (name, role: leader / sync_standby / replica, state, lag), from any node."""
        for node in self.topology()["nodes"]:
            status, body = http_json(f"http://127.0.0.1:{node['rest']}/cluster")
            if status == 200:
                return list(body.get("members", []))
        return []

    def _sync_standby_streaming(self) -> bool:
        return any(m.get("role") == "sync_standby" and m.get("state") in ("streaming", "running") for m in self.members())

    def _psql(self, port: int, sql: str, database: str = "postgres") -> str:
        return subprocess.check_output(
            [str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
             "-U", "postgres", "-d", database, "-c", sql],
            text=True, stderr=subprocess.STDOUT, timeout=30,
        ).strip()  # fmt: skip

    def _ensure_marquee_database(self, port: int) -> None:
        if self._psql(port, "SELECT 1 FROM pg_roles WHERE rolname = 'marquee'") != "1":
            self._psql(port, "CREATE ROLE marquee LOGIN SUPERUSER")
        if self._psql(port, "SELECT 1 FROM pg_database WHERE datname = 'marquee'") != "1":
            self._psql(port, "CREATE DATABASE marquee OWNER marquee")

    # -- component --------------------------------------------------------------------------------------------
    def up(self) -> None:
        self.state.make()
        topology = self.topology()
        self._start_etcd()
        first, *others = topology["nodes"]
        leader = self.primary()
        if leader is None and not (self._pg_home() / first["name"] / "PG_VERSION").exists():
            # The first start: one node bootstraps the cluster, the others then copy it.
            self._start_patroni(first)
            leader = wait_until(self.primary, WAIT_S, "a PostgreSQL primary elected by Patroni", every=0.5)
        for node in topology["nodes"]:  # a restart: all at once, whichever was the last leader
            self._start_patroni(node)
        leader = leader or wait_until(self.primary, WAIT_S, "a PostgreSQL primary elected by Patroni", every=0.5)
        for node in topology["nodes"]:
            wait_until(lambda node=node: self.role(node), WAIT_S, f"{node['name']} running", every=0.5)
            wait_until(lambda node=node: self._record_postmaster(node), 30, f"{node['name']} postmaster", every=0.2)
        if len(topology["nodes"]) > 1:
            wait_until(self._sync_standby_streaming, WAIT_S, "a synchronous standby streaming", every=0.5)
        leader = self.primary() or leader
        self._ensure_marquee_database(leader["pg"])
        update_env(self.env_path, {"MARQUEE_DATABASE_URL": self.url()})
        log(f"primary {leader['name']} on 127.0.0.1:{leader['pg']}; MARQUEE_DATABASE_URL in {self.env_path}")

    def down(self) -> None:
        procs = self.procs
        nodes = self.topology()["nodes"] if self.topology_path.exists() else []
        leader = self.primary() if nodes else None
        # Standbys first: a leader stopped first would have its standby promoted on the way down.
        nodes.sort(key=lambda node: leader is not None and node["name"] == leader["name"])
        for node in nodes:
            # Patroni stops its PostgreSQL (fast shutdown) before it exits.
            procs.stop(f"{node['name']}-patroni", timeout=60)
            procs.stop(f"{node['name']}-postgres", timeout=30)
        procs.stop("pg-etcd")
        update_env(self.env_path, {"MARQUEE_DATABASE_URL": None})

    def status(self) -> list[str]:
        if not self.topology_path.exists():
            return ["not set up"]
        lines = []
        members = {m.get("name"): m for m in self.members()}
        for node in self.topology()["nodes"]:
            member = members.get(node["name"], {})
            alive = self.procs.alive(f"{node['name']}-patroni")
            lines.append(
                f"{node['name']} 127.0.0.1:{node['pg']} {member.get('role', 'down' if not alive else '?')} "
                f"{member.get('state', '')} timeline {member.get('timeline', '-')} lag {member.get('lag', '-')}"
            )
        lines.append(f"etcd {'up' if self.procs.alive('pg-etcd') else 'down'}; url: {self.url()}")
        return lines

    # -- failures ---------------------------------------------------------------------------------------------
    def kill_primary(self) -> dict:
        """kill -9 of the primary's Patroni and postmaster (its backends exit when they see the postmaster gone)."""
        leader = self.primary()
        if leader is None:
            raise RuntimeError("no primary to kill")
        self._record_postmaster(leader)
        killed_at = time.time()
        self.procs.kill9(f"{leader['name']}-patroni")
        self.procs.kill9(f"{leader['name']}-postgres")
        log(f"killed the primary {leader['name']} (Patroni and postmaster, SIGKILL)")
        return {"node": leader["name"], "killed_at": killed_at}

    def wait_promotion(self, old: str, timeout: float = WAIT_S) -> dict:
        """Waits until another node is primary and takes a write through the multi-host URL."""
        start = time.time()

        def promoted() -> Optional[dict]:
            node = self.primary()
            return node if node and node["name"] != old else None

        node = wait_until(promoted, timeout, "a standby promoted", every=0.1)
        patroni_at = time.time()
        wait_until(
            lambda: self._psql(node["pg"], "SELECT NOT pg_is_in_recovery()") == "t", timeout, "the new primary writable", every=0.1
        )
        return {"node": node["name"], "promoted_after_s": round(patroni_at - start, 2), "writable_at": time.time()}

    def switchover(self) -> dict:
        """A planned switchover (`patronictl switchover`): the primary hands over to the synchronous standby
        and comes back as a standby itself; nothing is killed."""
        leader = self.primary()
        if leader is None:
            raise RuntimeError("no primary to switch over from")
        candidate = next(m["name"] for m in self.members() if m.get("role") == "sync_standby")
        config = self._pg_home() / f"{leader['name']}.yml"
        started = time.time()
        subprocess.run(
            ["patronictl", "-c", str(config), "switchover", "--leader", leader["name"], "--candidate", candidate,
             "--force"],
            check=True, capture_output=True, timeout=120, cwd="/",
        )  # fmt: skip
        log(f"switched over from {leader['name']} to {candidate}")
        return {"from": leader["name"], "to": candidate, "started_at": started}

    def failures(self) -> list:
        """For `scripts/cluster chaos` (opslib/chaos.py): the primary killed, the standby promoted, the old
        primary back as a standby. Restoring waits for the promotion first: a node restarted while its leader
        key is still alive in etcd would simply take its place back, and nothing would have failed over."""
        from .chaos import Failure  # noqa: PLC0415 -- only the chaos run needs it

        killed: dict = {}

        def kill() -> dict:
            killed.update(self.kill_primary())
            return killed

        def restore() -> dict:
            self.wait_promotion(killed["node"])
            return self.restore(killed["node"])

        def recovered() -> bool:
            return self.primary() is not None and self._sync_standby_streaming()

        return [
            Failure(name="postgres primary (kill -9, Patroni promotes the standby)", component=self.name,
                    node="primary", kill=kill, restore=restore, recovered=recovered, down_s=0.0,
                    recover_timeout_s=WAIT_S)
        ]  # fmt: skip

    def restore(self, name: str, timeout: float = WAIT_S) -> dict:
        """Starts a killed node's Patroni again; it rejoins as a (synchronous) standby of the new primary."""
        node = self.node(name)
        self.procs.stop(f"{name}-postgres", timeout=10)  # its remains, if any
        start = time.time()
        self._start_patroni(node)
        wait_until(lambda: self.role(node) == "replica", timeout, f"{name} back as a standby", every=0.5)
        wait_until(lambda: self._record_postmaster(node), 30, f"{name} postmaster", every=0.2)
        wait_until(self._sync_standby_streaming, timeout, "a synchronous standby streaming again", every=0.5)
        done = time.time()
        return {"node": name, "rejoined_after_s": round(done - start, 2), "rejoined_at": done}


class WriteProbe:
    """Inserts a row through the multi-host URL every `every` seconds on a thread of its own, each insert
    bounded by `timeout` seconds, and remembers when they failed: the write outage a client sees."""

    def __init__(self, url: str, every: float = 0.1, timeout: float = 3.0) -> None:
        import threading

        self.url, self.every, self.timeout = url, every, timeout
        self.results: list[tuple[float, float, bool]] = []  # (started, ended, ok)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _insert(self, sql: str) -> bool:
        try:
            done = subprocess.run(
                [str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                capture_output=True, timeout=self.timeout, check=False,
            )  # fmt: skip
            return done.returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            ok = self._insert("INSERT INTO cluster_drill DEFAULT VALUES")
            self.results.append((started, time.time(), ok))
            self._stop.wait(self.every)

    def start(self) -> "WriteProbe":
        if not self._insert("CREATE TABLE IF NOT EXISTS cluster_drill (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())"):
            raise RuntimeError("the write probe cannot create its table")
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)
        failed = [r for r in self.results if not r[2]]
        if not failed:
            return {"writes": len(self.results), "failed": 0}
        first_failure = failed[0][0]
        after = [r for r in self.results if r[2] and r[0] > failed[-1][0]]
        return {
            "writes": len(self.results),
            "failed": len(failed),
            "first_failed_at": first_failure,
            "first_ok_after_at": after[0][1] if after else None,
        }


def main(argv: list[str]) -> int:
    nodes = int(os.environ.get("MARQUEE_CLUSTER_PG_NODES", "2"))
    state = StateDir(Path(os.environ["MARQUEE_CLUSTER_STATE"])) if os.environ.get("MARQUEE_CLUSTER_STATE") else CLUSTER
    component = PgFailover(state, nodes=nodes)
    command = argv[0] if argv else "status"
    if command == "up":
        component.up()
    elif command == "down":
        component.down()
    elif command == "status":
        print("\n".join(component.status()))
    elif command == "url":
        print(component.url())
    elif command == "primary":
        node = component.primary()
        print(node["name"] if node else "")
    elif command == "kill-primary":
        print(json.dumps(component.kill_primary()))
    elif command == "restore":
        print(json.dumps(component.restore(argv[1])))
    elif command == "switchover":
        # --writes: the write outage a client inserting every 100 ms sees during a planned switchover.
        probe = WriteProbe(component.url().replace("dbname=marquee", "dbname=postgres").replace("user=marquee", "user=postgres")).start() if "--writes" in argv else None
        if probe:
            time.sleep(2)
        report = component.switchover()
        wait_until(component._sync_standby_streaming, WAIT_S, "the old primary back as a synchronous standby", every=0.5)
        report["standby_back_after_s"] = round(time.time() - report["started_at"], 2)
        if probe:
            time.sleep(3)
            writes = probe.stop()
            if writes.get("first_failed_at"):
                writes["outage_from_start_s"] = round(writes["first_failed_at"] - report["started_at"], 2)
                if writes.get("first_ok_after_at"):
                    writes["writes_back_after_start_s"] = round(writes["first_ok_after_at"] - report["started_at"], 2)
            report["writes"] = writes
        print(json.dumps(report))
    elif command == "drill":
        # --writes: a client inserting every 100 ms through the URL measures the write outage too.
        probe = WriteProbe(component.url().replace("dbname=marquee", "dbname=postgres").replace("user=marquee", "user=postgres")).start() if "--writes" in argv else None
        if probe:
            time.sleep(2)
        killed = component.kill_primary()
        promoted = component.wait_promotion(killed["node"])
        promoted["kill_to_writable_s"] = round(promoted["writable_at"] - killed["killed_at"], 2)
        if probe:
            time.sleep(15)  # writes with the old primary still down
        restored = component.restore(killed["node"])
        report = {"killed": killed, "promoted": promoted, "restored": restored}
        if probe:
            time.sleep(3)
            writes = probe.stop()
            if writes.get("first_failed_at"):
                writes["outage_from_kill_s"] = round(writes["first_failed_at"] - killed["killed_at"], 2)
                if writes.get("first_ok_after_at"):
                    writes["writes_back_after_kill_s"] = round(writes["first_ok_after_at"] - killed["killed_at"], 2)
            report["writes"] = writes
        print(json.dumps(report))
    else:
        print(f"usage: {Path(sys.argv[0]).name} up|down|status|url|primary|kill-primary|restore NODE|drill|switchover", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
