"""A Redis Cluster of 3 primaries + 3 replicas on loopback (scripts/cluster's `redis` component, issue 16).

Six `redis-server --cluster-enabled yes` processes on free ports, joined by `redis-cli --cluster create
--cluster-replicas 1`, recorded by pid under the state folder (run/redis-N.json), data in data/redis-N/, logs in
logs/redis-N.log. `up` writes the seed list to <state>/env as `export MARQUEE_REDIS_CLUSTER=host:port,...`
(other components' lines in that file are kept). For chaos: `kill_primary()` kill -9s a primary by its recorded
pid, `wait_promoted()` waits for its replica to take over, `restart()` starts it again in its place (it rejoins
as a replica of the promoted node, its AOF and nodes.conf intact). Design: docs/decisions/0020-redis-cluster-routing.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from .net import free_port, is_port_open, wait_port, wait_until
from .paths import CLUSTER, StateDir
from .proc import Processes

ENV_VAR = "MARQUEE_REDIS_CLUSTER"
BUS_OFFSET = 10000  # the cluster bus listens on port + 10000
HOST = "127.0.0.1"


def cluster_ports(count: int, low: int = 20000, high: int = 22700) -> list[int]:
    """`count` distinct ports whose cluster bus port (+10000) is free too; both stay below the ephemeral range."""
    chosen: list[int] = []
    for _ in range(count * 50):
        if len(chosen) == count:
            break
        port = free_port(chosen, low, high)
        if port + BUS_OFFSET in chosen or is_port_open(port + BUS_OFFSET):
            continue  # its bus port is taken: try another
        chosen.append(port)
    if len(chosen) != count:
        raise RuntimeError(f"could not find {count} free port pairs (port, port+{BUS_OFFSET}) on {HOST}")
    return chosen


def server_argv(port: int, data: Path, node_timeout_ms: int, appendonly: bool) -> list[str]:
    """One cluster node, in the foreground (so its pid is the one recorded)."""
    return [
        "redis-server",
        "--port", str(port),
        "--bind", HOST,
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", str(node_timeout_ms),
        # A replica that lost touch with its primary for long still may be promoted: a lab on one box.
        "--cluster-replica-validity-factor", "0",
        # While one primary is down, the others keep serving their slots (the default, yes, answers CLUSTERDOWN
        # for every key of the cluster until the failover is over).
        "--cluster-require-full-coverage", "no",
        "--dir", str(data),
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--daemonize", "no",
        "--protected-mode", "no",
    ]


def set_env_line(path: Path, name: str, value: str) -> None:
    """Writes `export NAME=value` into an env file, replacing that variable's line and keeping every other one."""
    lines = path.read_text().splitlines() if path.exists() else []
    prefix = f"export {name}="
    kept = [line for line in lines if not line.startswith(prefix)]
    kept.append(f"{prefix}{value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(kept) + "\n")


def drop_env_line(path: Path, name: str) -> None:
    if not path.exists():
        return
    prefix = f"export {name}="
    kept = [line for line in path.read_text().splitlines() if not line.startswith(prefix)]
    path.write_text("\n".join(kept) + ("\n" if kept else ""))


def parse_cluster_info(text: str) -> dict[str, str]:
    """`CLUSTER INFO` / `INFO` text as a dict (`cluster_state` -> `ok`)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key] = value
    return fields


def parse_cluster_nodes(text: str) -> list[dict]:
    """`CLUSTER NODES` lines as dicts: id, host, port, flags (set), primary id ('-' for a primary), slots (list)."""
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        address = parts[1].split("@", 1)[0]
        host, _, port = address.rpartition(":")
        nodes.append(
            {
                "id": parts[0],
                "host": host,
                "port": int(port) if port.isdigit() else 0,
                "flags": set(parts[2].split(",")),
                "primary": parts[3],
                "link": parts[7],
                "slots": parts[8:],
            }
        )
    return nodes


def serves(node: dict, slot: int) -> bool:
    """Whether a CLUSTER NODES entry lists `slot` among its own ("[slot->-id]" migration notes are not)."""
    for item in node["slots"]:
        if item.startswith("["):
            continue
        first, _, last = item.partition("-")
        if int(first) <= slot <= int(last or first):
            return True
    return False


def live_primaries(nodes: list[dict]) -> list[dict]:
    """Primaries that serve slots and are not marked failed."""
    return [
        n for n in nodes if "master" in n["flags"] and not ({"fail", "fail?"} & n["flags"]) and n["slots"]
    ]


class RedisCluster:
    """The `redis` component: up / down / status, plus the chaos helpers."""

    name = "redis"

    def __init__(
        self,
        state: StateDir = CLUSTER,
        primaries: int = 3,
        replicas_per_primary: int = 1,
        node_timeout_ms: int = 2000,
    ) -> None:
        self.state = state
        self.primaries = primaries
        self.replicas_per_primary = replicas_per_primary
        self.node_timeout_ms = node_timeout_ms
        self.procs = Processes(state)
        self.env_file = state.base / "env"
        self._primaries_before: set[str] = set()  # the primaries when kill_primary() last ran

    # -- names and ports -------------------------------------------------------------------------------------

    def node_names(self) -> list[str]:
        return sorted(
            (r.name for r in self.procs.records() if r.name.startswith("redis-")), key=lambda n: int(n.split("-")[1])
        )

    def port_of(self, name: str) -> int:
        record = self.procs.record(name)
        if record is None:
            raise KeyError(name)
        return record.ports["redis"]

    def ports(self) -> list[int]:
        return [self.port_of(name) for name in self.node_names()]

    def name_of_port(self, port: int) -> Optional[str]:
        for name in self.node_names():
            if self.port_of(name) == port:
                return name
        return None

    def seeds(self) -> str:
        return ",".join(f"{HOST}:{port}" for port in self.ports())

    # -- redis-cli ---------------------------------------------------------------------------------------------

    @staticmethod
    def cli(port: int, *args: str, timeout: float = 5.0) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", HOST, "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout

    def info(self, port: int) -> dict[str, str]:
        return parse_cluster_info(self.cli(port, "CLUSTER", "INFO"))

    def nodes(self, port: Optional[int] = None) -> list[dict]:
        """The cluster's view from `port` (or from the first node that answers)."""
        for candidate in [port] if port else self.ports():
            try:
                return parse_cluster_nodes(self.cli(candidate, "CLUSTER", "NODES"))
            except (subprocess.SubprocessError, OSError):
                continue
        return []

    def state_ok(self, port: int) -> bool:
        return self.info(port).get("cluster_state") == "ok"

    # -- up / down / status -------------------------------------------------------------------------------------

    def up(self) -> None:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError("redis-server/redis-cli missing: run scripts/setup-packages")
        names = self.node_names()
        if names and all(self.procs.alive(n) for n in names):
            wait_until(lambda: all(self.state_ok(p) for p in self.ports()), 30, "redis cluster state ok")
            set_env_line(self.env_file, ENV_VAR, self.seeds())
            return
        if names:
            self.down()
        count = self.primaries * (1 + self.replicas_per_primary)
        ports = cluster_ports(count)
        for index, port in enumerate(ports):
            name = f"redis-{index}"
            data = self.state.data_of(name)
            for stale in ("nodes.conf", "appendonlydir", "dump.rdb"):
                path = data / stale
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            self.procs.spawn(name, server_argv(port, data, self.node_timeout_ms, appendonly=True), ports={"redis": port})
        for port in ports:
            wait_port(port, 15, f"redis {port} listening")
        # The first `primaries` addresses become primaries, each of the others a replica of one of them.
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"{HOST}:{p}" for p in ports),
             "--cluster-replicas", str(self.replicas_per_primary), "--cluster-yes"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        self.wait_ok(30)
        set_env_line(self.env_file, ENV_VAR, self.seeds())

    def wait_ok(self, timeout: float) -> None:
        """Every running node says cluster_state:ok and sees `primaries` live primaries with replicas attached."""

        def settled() -> bool:
            ports = [self.port_of(n) for n in self.node_names() if self.procs.alive(n)]
            for port in ports:
                if not self.state_ok(port):
                    return False
                view = self.nodes(port)
                masters = [n for n in view if "master" in n["flags"] and not ({"fail", "fail?"} & n["flags"])]
                if len(masters) != self.primaries or len(live_primaries(view)) != self.primaries:
                    return False
            return True

        wait_until(settled, timeout, "redis cluster state ok", every=0.2)

    def down(self) -> None:
        for name in self.node_names():
            self.procs.stop(name, timeout=15)
        for note in [*self.state.run.glob("migration-*.txt"), self.state.run / "primaries-before-kill.json"]:
            note.unlink(missing_ok=True)
        drop_env_line(self.env_file, ENV_VAR)

    def status(self) -> list[str]:
        lines = []
        names = self.node_names()
        if not names:
            return ["not running"]
        view = self.nodes()
        by_port = {n["port"]: n for n in view}
        for name in names:
            port = self.port_of(name)
            alive = self.procs.alive(name)
            node = by_port.get(port)
            role = "?"
            if node:
                role = "primary" if "master" in node["flags"] else "replica"
                if {"fail", "fail?"} & node["flags"]:
                    role += " (failed)"
            lines.append(f"{name} {HOST}:{port} {'up' if alive else 'DOWN'} {role}")
        if self.ports():
            try:
                lines.append("cluster_state:" + self.info(next(p for p in self.ports() if is_port_open(p))).get("cluster_state", "?"))
            except (StopIteration, subprocess.SubprocessError, OSError):
                lines.append("cluster_state: no node answers")
        return lines

    # -- chaos -----------------------------------------------------------------------------------------------------

    def primary_names(self) -> list[str]:
        """The recorded nodes that are live primaries now."""
        found = []
        for node in live_primaries(self.nodes()):
            name = self.name_of_port(node["port"])
            if name and self.procs.alive(name):
                found.append(name)
        return sorted(found)

    def busiest_primary(self) -> Optional[str]:
        """The live primary serving the most commands per second now: during a sale, the one holding the hot
        schedule's slot (all its keys share one hash tag, ADR 0020), whose loss the fans feel. None: the first."""
        rates: dict[str, int] = {}
        for name in self.primary_names():
            try:
                info = parse_cluster_info(self.cli(self.port_of(name), "INFO", "stats"))
                rates[name] = int(info.get("instantaneous_ops_per_sec", "0") or 0)
            except (subprocess.SubprocessError, OSError, ValueError):
                continue
        return max(sorted(rates), key=lambda n: rates[n]) if rates else None

    def is_replica(self, name: str) -> bool:
        """The recorded node `name` runs and the cluster lists it as a replica (a killed primary back in place)."""
        if not name or not self.procs.alive(name):
            return False
        port = self.port_of(name)
        return any(n["port"] == port and "slave" in n["flags"] and not ({"fail", "fail?"} & n["flags"])
                   for n in self.nodes())  # fmt: skip

    def kill_primary(self, name: Optional[str] = None) -> str:
        """kill -9 of a primary (the first one, or `name`) by its recorded pid; returns its name."""
        self._primaries_before = set(self.primary_names())
        # Kept on disk too: wait_promoted() may run in another process (tests/cluster drives this module's CLI).
        (self.state.run / "primaries-before-kill.json").write_text(json.dumps(sorted(self._primaries_before)))
        victim = name or sorted(self._primaries_before)[0]
        if not self.procs.kill9(victim):
            raise RuntimeError(f"{victim} was not running")
        return victim

    def wait_promoted(self, victim: str, timeout: float = 30.0) -> str:
        """Waits until another node serves the victim's slots and the cluster is ok; returns the new primary."""
        port = self.port_of(victim)
        if not self._primaries_before:
            saved = self.state.run / "primaries-before-kill.json"
            if saved.exists():
                self._primaries_before = set(json.loads(saved.read_text()))
        survivors = [self.port_of(n) for n in self.node_names() if n != victim and self.procs.alive(n)]

        def promoted() -> Optional[str]:
            for observer in survivors:
                if not self.state_ok(observer):
                    return None
            nodes = self.nodes(survivors[0])
            primaries = live_primaries(nodes)
            if len(primaries) != self.primaries or any(p["port"] == port for p in primaries):
                return None
            for p in primaries:
                named = self.name_of_port(p["port"])
                if named and named not in self._primaries_before:
                    return named
            return None

        return wait_until(promoted, timeout, f"a replica of {victim} promoted", every=0.2)

    def restart(self, name: str, timeout: float = 30.0) -> None:
        """Starts a killed node again with its recorded command line; it rejoins (as a replica if replaced)."""
        record = self.procs.record(name)
        if record is None:
            raise KeyError(name)
        if not self.procs.alive(name):
            self.procs.spawn(name, record.argv, ports=record.ports)
        wait_port(record.ports["redis"], timeout, f"{name} listening")
        self.wait_ok(timeout)

    def failures(self) -> list:
        """For `scripts/cluster chaos` (opslib.chaos): the busiest primary (the hot schedule's slot) killed with -9 and started again; recovered when
        a replica took its slots and the restarted node rejoined (as a replica)."""
        from .chaos import Failure  # noqa: PLC0415 -- only the chaos run needs it

        state: dict[str, str] = {}

        def kill() -> str:
            state["victim"] = self.kill_primary(self.busiest_primary())
            return state["victim"]

        def restore() -> None:
            victim = state.get("victim")
            if victim:
                self.wait_promoted(victim, timeout=60)
                self.restart(victim, timeout=60)

        def recovered() -> bool:
            try:
                self.wait_ok(1)
            except Exception:  # noqa: BLE001 -- not yet
                return False
            return self.is_replica(state.get("victim", ""))

        return [
            Failure(
                name="redis primary (kill -9)",
                component=self.name,
                kill=kill,
                restore=restore,
                node="a redis primary",
                recovered=recovered,
            )
        ]

    # -- slots: the owner of one, and moving an (empty) one, for tests of MOVED and ASK --------------------------

    def owner(self, slot: int) -> dict:
        for node in live_primaries(self.nodes()):
            if serves(node, slot):
                return node
        raise RuntimeError(f"no live primary serves slot {slot}")

    def primary_of(self, slot: int) -> str:
        """The recorded name of the node serving `slot`."""
        name = self.name_of_port(self.owner(slot)["port"])
        if name is None:
            raise RuntimeError(f"slot {slot} is served by a node this state folder did not start")
        return name

    def start_migration(self, slot: int) -> tuple[dict, dict]:
        """Marks `slot` MIGRATING on its owner and IMPORTING on another primary; keys absent from the owner are
        then answered with ASK. Returns (source, target)."""
        source = self.owner(slot)
        target = next(n for n in live_primaries(self.nodes()) if n["id"] != source["id"])
        self.cli(target["port"], "CLUSTER", "SETSLOT", str(slot), "IMPORTING", source["id"])
        self.cli(source["port"], "CLUSTER", "SETSLOT", str(slot), "MIGRATING", target["id"])
        self._migration_file(slot).write_text(json.dumps({"source": source["port"], "target": target["port"]}))
        return source, target

    def _migration_file(self, slot: int) -> Path:
        return self.state.run / f"migration-{slot}.txt"

    def finish_started_migration(self, slot: int) -> None:
        """finish_migration() of the migration start_migration() began (possibly in another process)."""
        ports = json.loads(self._migration_file(slot).read_text())
        by_port = {n["port"]: n for n in self.nodes()}
        self.finish_migration(slot, by_port[ports["source"]], by_port[ports["target"]])
        self._migration_file(slot).unlink(missing_ok=True)

    def finish_migration(self, slot: int, source: dict, target: dict) -> None:
        """Moves the keys still on the source, then gives `slot` to the target everywhere (the source answers
        MOVED from then on)."""
        while True:
            keys = self.cli(source["port"], "CLUSTER", "GETKEYSINSLOT", str(slot), "100").split()
            if not keys:
                break
            self.cli(source["port"], "MIGRATE", HOST, str(target["port"]), "", "0", "5000", "KEYS", *keys)
        self.cli(target["port"], "CLUSTER", "SETSLOT", str(slot), "NODE", target["id"])
        self.cli(source["port"], "CLUSTER", "SETSLOT", str(slot), "NODE", target["id"])
        for node in live_primaries(self.nodes()):
            if node["id"] not in (source["id"], target["id"]):
                self.cli(node["port"], "CLUSTER", "SETSLOT", str(slot), "NODE", target["id"])


def main(argv: Optional[list[str]] = None) -> int:
    """python3 -m opslib.redis_cluster --state DIR COMMAND [ARG]: the component's helpers for tests that drive a
    cluster from another program (tests/cluster). Prints what it found or did."""
    import argparse

    parser = argparse.ArgumentParser(prog="opslib.redis_cluster")
    parser.add_argument("--state", required=True, help="the state folder (run/, logs/, data/, env)")
    parser.add_argument("--node-timeout-ms", type=int, default=2000)
    parser.add_argument(
        "command",
        choices=[
            "up", "down", "status", "seeds", "primary-of", "kill-primary-of", "wait-promoted", "restart", "migrate",
            "finish",
        ],
    )
    parser.add_argument("arg", nargs="?")
    args = parser.parse_args(argv)
    cluster = RedisCluster(StateDir(Path(args.state)), node_timeout_ms=args.node_timeout_ms)
    if args.command == "up":
        cluster.up()
        print(cluster.seeds())
    elif args.command == "down":
        cluster.down()
    elif args.command == "status":
        print("\n".join(cluster.status()))
    elif args.command == "seeds":
        print(cluster.seeds())
    elif args.command == "primary-of":
        print(cluster.primary_of(int(args.arg)))
    elif args.command == "kill-primary-of":
        print(cluster.kill_primary(cluster.primary_of(int(args.arg))))
    elif args.command == "wait-promoted":
        print(cluster.wait_promoted(args.arg))
    elif args.command == "restart":
        cluster.restart(args.arg)
    elif args.command == "migrate":
        cluster.start_migration(int(args.arg))
    elif args.command == "finish":
        cluster.finish_started_migration(int(args.arg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
