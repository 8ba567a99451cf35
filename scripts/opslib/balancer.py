"""HAProxy in front of the service replicas, routing by path exactly as the Ingress does (issue 16, ADR 0023).

The routes are read from deploy/k8s/base/ingress.yaml at every start, so there is one list of routes: the
Ingress's. ingress-nginx (annotation `use-regex: "true"`) turns each path into a case-insensitive regular
expression location anchored at the start (`location ~* "^<path>"`) and orders those locations longest path
first; nginx takes the first regular expression that matches. Here each path becomes `path_reg -i ^<path>`
and the `use_backend` rules keep that same order, so the same request reaches the same service. A path no rule
matches gets 404, as from ingress-nginx's default backend: /healthz, /readyz and /metrics stay unrouted.

Health: every server is checked on its Deployment's readiness path (/readyz; the gateway's is /healthz) every
second and leaves the rotation after 2 failures; when every server of a service fails at once (a shared engine
is down) the balancer fails open and sends to them anyway, so Marquee gives its own 503 with Retry-After.
Retries: a request whose connection to a server failed before anything was sent is retried on another server,
whatever its method; a GET (or HEAD) whose server closed without answering is retried too; any other request
that reached a server is never sent twice (a POST may have been applied: the fan gets 502, or, on a kept-alive
connection, the connection closed without an answer).
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .marquee_replicas import READINESS, MarqueeReplicas
from .net import free_port, http_status, wait_until
from .paths import CLUSTER, ROOT, StateDir
from .proc import Processes

INGRESS = ROOT / "deploy" / "k8s" / "base" / "ingress.yaml"
SERVICE_MANIFESTS = ROOT / "deploy" / "k8s" / "base" / "services"
NAME = "balancer"
OPEN_SUFFIX = "-open"  # the unchecked backup entry of each replica (fail open, below)


def _problem(status: int, slug: str, title: str, detail: str, retry_after: bool = False) -> str:
    """An `http-error` line: the balancer's own answers as problem+json, like Marquee's (ADR 0002)."""
    kind = f"https://marquee.dev/problems/{slug}" if slug else "about:blank"
    body = f'{{"type":"{kind}","title":"{title}","status":{status},"detail":"{detail}"}}'
    line = f"    http-error status {status} content-type application/problem+json string '{body}'"
    return line + (" hdr Retry-After 1" if retry_after else "")


@dataclass(frozen=True)
class Route:
    path: str  # the Ingress path: a regular expression, matched from the start of the request path
    service: str  # the Marquee service (the Kubernetes Service is marquee-<service>)


def _value(line: str) -> str:
    value = line.split(":", 1)[1].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def parse_ingress(text: str) -> list[Route]:
    """The (path, backend service) pairs of an Ingress manifest, in file order.

    A tiny reader for block-style YAML of the shape of deploy/k8s/base/ingress.yaml, as written there (`- path:`
    first) or as `kubectl kustomize` renders it (`- backend:` first, keys sorted): each item of `paths` holds one
    `path:` and, under `service:`, one `name: marquee-<service>`. Not a YAML parser: what it does not
    understand raises.
    """
    routes: list[Route] = []
    item: Optional[dict] = None

    def finish() -> None:
        if item is None:
            return
        if "path" not in item or "service" not in item:
            raise ValueError(f"an Ingress path item without its path or service: {item}")
        routes.append(Route(item["path"], item["service"]))

    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        stripped = raw.split(" #", 1)[0].strip()
        if not stripped:
            continue
        if stripped.startswith("- path:") or stripped.startswith("- backend:"):
            finish()
            item = {"in_service": False}
            stripped = stripped[2:]
        elif item is not None and stripped.startswith("- "):
            finish()  # the next list (e.g. tls:) begins
            item = None
            continue
        if item is None:
            continue
        if stripped.startswith("path:"):
            item["path"] = _value(stripped)
        elif stripped == "service:":
            item["in_service"] = True
        elif item["in_service"] and "service" not in item and stripped.startswith("name:"):
            name = _value(stripped)
            if not name.startswith("marquee-"):
                raise ValueError(f"an Ingress path goes to {name!r}, not a marquee-<service>")
            item["service"] = name[len("marquee-") :]
    finish()
    if not routes:
        raise ValueError("no paths in the Ingress")
    return routes


def ingress_routes(path: Path = INGRESS) -> list[Route]:
    return parse_ingress(path.read_text())


def nginx_order(routes: list[Route]) -> list[Route]:
    """The order ingress-nginx gives its regular-expression locations: longest path first (stable)."""
    return sorted(routes, key=lambda route: len(route.path), reverse=True)


def route(routes: list[Route], request_path: str) -> Optional[str]:
    """The service a request path goes to under ingress-nginx's rules (None: 404), for tests and checks."""
    for r in nginx_order(routes):
        if re.match(r.path, request_path, flags=re.IGNORECASE):
            return r.service
    return None


def readiness_paths(folder: Path = SERVICE_MANIFESTS) -> dict[str, str]:
    """service -> the path of its Deployment's readinessProbe (deploy/k8s/base/services/<service>.yaml)."""
    found: dict[str, str] = {}
    for manifest in sorted(folder.glob("*.yaml")):
        lines = manifest.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "readinessProbe:":
                for following in lines[i + 1 : i + 6]:
                    if following.strip().startswith("path:"):
                        found[manifest.stem] = _value(following.strip())
                        break
    return found


# ---------------------------------------------------------------------------------------------- haproxy.cfg


def _acl_name(index: int, r: Route) -> str:
    return f"r{index}_{r.service}"


def _haproxy_regex(path: str) -> str:
    # haproxy.cfg words: a space or a quote would end the pattern; the Ingress has neither.
    if any(ch in path for ch in " \t'\"#"):
        raise ValueError(f"Ingress path {path!r} cannot be written as one haproxy pattern")
    return "^" + path.replace("\\", "\\\\")


def render_config(
    routes: list[Route],
    servers: dict[str, list[tuple[str, int]]],
    port: int,
    stats_socket: Path,
    health_paths: dict[str, str] = READINESS,
) -> str:
    """haproxy.cfg: one frontend on 127.0.0.1:port with the Ingress's rules, one backend per service."""
    ordered = nginx_order(routes)
    out = [
        "# Generated by scripts/opslib/balancer.py from deploy/k8s/base/ingress.yaml; do not edit.",
        "global",
        "    log stdout format raw local0",
        f"    stats socket {stats_socket} mode 600 level admin",
        # Two descriptors per proxied connection, within this machine's hard limit of 20,000 files.
        "    maxconn 9000",
        "",
        "defaults",
        "    mode http",
        "    log global",
        # Epoch with milliseconds, status, method, backend/server, retries, termination state, total time,
        # path, then the handshake and idle times: what the chaos runner reads back (chaos.py). The epoch is
        # when the connection was accepted, or when its previous request ended (keep-alive), so the request
        # itself arrived %Th + %Ti ms later: a fan's queue join on the connection of its login, seconds after.
        '    log-format "%Ts.%ms %ST %HM %b/%s %rc %tsc %Ta %HP %Th %Ti"',
        "    option forwardfor",
        # Keep-alive on both sides. A server that dies holding a request: the fan gets 502 if it was the first
        # request of the fan's connection; on a later one haproxy closes the fan's connection without an answer
        # and without a log line (as a server closing a persistent connection; RFC 9112 9.3.1 lets a client
        # retry only an idempotent request by itself). Either way haproxy never sends that request again.
        "    option http-keep-alive",
        "    timeout connect 2s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 60s",
        # Server-sent events: the Ingress keeps a stream an hour (proxy-read-timeout / proxy-send-timeout).
        "    timeout client 3600s",
        "    timeout server 3600s",
        "    timeout tunnel 3600s",
        # Retries: a failed connection (nothing sent) on any method, on another server; a GET or HEAD whose
        # server closed without an answer too. Every other request that reached a server is sent once.
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response",
        # What the balancer answers itself: problem+json; 503 (no replica to send to) with Retry-After.
        _problem(503, "dependency-unavailable", "Service unavailable", "No replica of this service answers.", True),
        _problem(502, "", "Bad Gateway", "The replica failed while handling the request; it may have been applied."),
        _problem(504, "", "Gateway Timeout", "The replica did not answer in time; the request may have been applied."),
        _problem(413, "payload-too-large", "Payload too large", "The request body is over 2 MiB."),
        "    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2"
        " observe layer4 error-limit 1 on-error fastinter",
        "",
        "frontend marquee",
        f"    bind 127.0.0.1:{port}",
        # ingress-nginx: proxy-body-size 2m (Marquee itself refuses bodies over 1 MiB with a problem+json 413).
        "    http-request deny deny_status 413 if { req.hdr_val(content-length) gt 2097152 }",
        # ingress-nginx passes the client's X-Request-ID, or one it made.
        "    unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt%pid",
        "    http-request set-header X-Request-ID %[unique-id] unless { req.hdr(x-request-id) -m found }",
        "    http-request disable-l7-retry unless METH_GET",
    ]
    for index, r in enumerate(ordered):
        out.append(f"    acl {_acl_name(index, r)} path_reg -i {_haproxy_regex(r.path)}")
    out.append(
        "    http-request return status 404 content-type application/problem+json string "
        '\'{"type":"https://marquee.dev/problems/not-found","title":"Not Found","status":404}\' '
        "unless " + " || ".join(_acl_name(i, r) for i, r in enumerate(ordered))
    )
    for index, r in enumerate(ordered):
        out.append(f"    use_backend {r.service} if {_acl_name(index, r)}")
    for service in sorted({r.service for r in ordered}):
        out += [
            "",
            f"backend {service}",
            "    balance roundrobin",
            f"    option httpchk GET {health_paths.get(service, '/readyz')}",
            "    http-check expect status 200",
        ]
        for name, server_port in servers.get(service, []):
            out.append(f"    server {name} 127.0.0.1:{server_port} check")
        # Fail open: when every replica of a service fails its readiness check at once, the cause is shared (an
        # engine), not the replicas. Then the same processes, unchecked, take the requests: Marquee answers
        # with its own 503 naming the dependency and Retry-After, and serves what does not need that engine.
        out.append("    option allbackups")
        for name, server_port in servers.get(service, []):
            out.append(f"    server {name}{OPEN_SUFFIX} 127.0.0.1:{server_port} backup")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------- the component


class Balancer:
    """HAProxy in front of a MarqueeReplicas component. A component of scripts/cluster."""

    name = NAME

    def __init__(self, replicas: MarqueeReplicas, state: StateDir = CLUSTER, binary: str = "haproxy") -> None:
        self.replicas = replicas
        self.state = state
        self.procs = Processes(state)
        self.binary = binary
        self.config = state.base / "haproxy.cfg"
        self.socket = state.run / "haproxy.sock"

    def port(self) -> Optional[int]:
        record = self.procs.record(NAME)
        return record.ports.get("http") if record else None

    def url(self) -> str:
        port = self.port()
        if not port:
            raise RuntimeError("the balancer is not running (scripts/cluster up)")
        return f"http://127.0.0.1:{port}"

    def log_path(self) -> Path:
        return self.state.log_of(NAME)

    def render(self, port: int) -> str:
        servers = self.replicas.servers()
        empty = [service for service, found in servers.items() if not found]
        if empty:
            raise RuntimeError(f"no replicas of {', '.join(empty)}: start the marquee component first")
        return render_config(ingress_routes(), servers, port, self.socket)

    def write_config(self, port: int) -> None:
        self.config.write_text(self.render(port))
        check = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c refused {self.config}:\n{check.stdout}")

    def up(self) -> None:
        port = self.port() or free_port()
        if self.procs.alive(NAME):
            # Running: restarted on the same port only if the replicas (or the Ingress) changed since.
            if self.config.exists() and self.config.read_text() == self.render(port):
                return
            self.procs.stop(NAME, timeout=10)
        self.write_config(port)
        self.procs.spawn(NAME, [self.binary, "-db", "-f", str(self.config)], ports={"http": port})
        def all_up() -> bool:
            if not self.procs.alive(NAME):
                raise RuntimeError(f"haproxy exited; see {self.log_path()}")
            return self.servers_up() == self.total_servers()

        wait_until(all_up, 30, "every replica UP behind haproxy", every=0.2)

    def down(self) -> None:
        self.procs.stop(NAME, timeout=10)
        self.socket.unlink(missing_ok=True)

    def total_servers(self) -> int:
        return sum(len(found) for found in self.replicas.servers().values())

    def stat(self) -> list[dict[str, str]]:
        """`show stat` of the stats socket: one dict per proxy and server."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(self.socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        lines = b"".join(chunks).decode().splitlines()
        if not lines or not lines[0].startswith("# "):
            return []
        header = lines[0][2:].split(",")
        return [dict(zip(header, line.split(","))) for line in lines[1:] if line]

    def server_states(self) -> dict[str, str]:
        """replica name -> haproxy's status of it (UP, DOWN, UP 1/2, ...)."""
        return {
            row["svname"]: row["status"]
            for row in self.stat()
            if row.get("svname") not in ("FRONTEND", "BACKEND")
            and row.get("svname")
            and not row["svname"].endswith(OPEN_SUFFIX)
        }

    def servers_up(self) -> int:
        try:
            return sum(1 for status in self.server_states().values() if status == "UP")
        except OSError:
            return 0

    def is_up(self, name: str) -> bool:
        try:
            return self.server_states().get(name) == "UP"
        except OSError:
            return False

    def status(self) -> list[str]:
        if not self.procs.alive(NAME):
            return ["not running"]
        lines = [f"{self.url()} (haproxy pid {self.procs.record(NAME).pid}, {self.config})"]
        try:
            states = self.server_states()
        except OSError as error:
            return lines + [f"stats socket: {error}"]
        lines += [f"{name}: {state}" for name, state in sorted(states.items())]
        lines.append(f"GET /api/v1/concerts through it: {http_status(self.url() + '/api/v1/concerts')}")
        return lines
