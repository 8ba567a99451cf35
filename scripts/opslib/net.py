"""Free loopback ports and waiting for things to come up."""

from __future__ import annotations

import json
import random
import socket
import time
import urllib.error
import urllib.request
from typing import Callable, Iterable, Optional, TypeVar

T = TypeVar("T")


class WaitTimeout(RuntimeError):
    """What was awaited did not happen in time."""


def is_port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts TCP connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(claimed: Iterable[int] = (), low: int = 20000, high: int = 32768) -> int:
    """A port nobody listens on at 127.0.0.1, below the ephemeral range, and not in `claimed`."""
    taken = set(claimed)
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port on 127.0.0.1 between {low} and {high - 1}")


def free_ports(count: int, claimed: Iterable[int] = ()) -> list[int]:
    """`count` distinct free ports."""
    ports: list[int] = list(claimed)
    fresh: list[int] = []
    for _ in range(count):
        port = free_port(ports)
        ports.append(port)
        fresh.append(port)
    return fresh


def wait_until(check: Callable[[], Optional[T]], timeout: float, what: str, every: float = 0.1) -> T:
    """Calls `check` until it returns something truthy (returned) or `timeout` seconds pass (WaitTimeout).

    An exception from `check` counts as "not yet"; the last one is named in the timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 -- "not yet", reported if it never comes
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise WaitTimeout(f"{what}: not within {timeout:g} s{detail}")
        time.sleep(every)


def wait_port(port: int, timeout: float, what: str = "", host: str = "127.0.0.1") -> None:
    """Waits until host:port accepts connections."""
    wait_until(lambda: is_port_open(port, host), timeout, what or f"{host}:{port} listening")


def http_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of a GET (0 when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def http_json(url: str, timeout: float = 1.0) -> tuple[int, dict]:
    """(status, JSON body) of a GET, an error status's body included; (0, {}) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return 0, {}


def wait_http(url: str, timeout: float, status: int = 200) -> None:
    """Waits until a GET of `url` answers `status`."""
    wait_until(lambda: http_status(url) == status, timeout, f"GET {url} -> {status}")
