"""Processes started by a script, recorded by pid and stopped only by that record.

A record is `run/<name>.json` in a StateDir: {"name", "pid", "argv", "ports", "started"}. A record is live
when its pid exists and /proc/<pid>/cmdline still starts with the recorded program, so a reused pid is never
signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from .net import WaitTimeout, wait_until
from .paths import StateDir


@dataclass
class Record:
    name: str
    pid: int
    argv: list[str]
    ports: dict[str, int] = field(default_factory=dict)
    started: float = 0.0


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _state(pid: int) -> Optional[str]:
    """The state letter of /proc/<pid>/stat (R, S, Z, ...), or None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _runs(cmdline: list[str], record: Record) -> bool:
    # A program that rewrites its title (redis-server: "redis-server 127.0.0.1:7000 [cluster]") keeps its name
    # as the first word.
    program = cmdline[0].split(" ", 1)[0]
    return os.path.basename(program) == os.path.basename(record.argv[0])


def _is_ours(record: Record) -> bool:
    """The recorded pid still runs the recorded program (not a zombie, not a reused pid)."""
    cmdline = _cmdline(record.pid)
    if not cmdline or not record.argv:
        return False
    if _state(record.pid) in (None, "Z", "X"):
        return False
    return _runs(cmdline, record)


def _gone(record: Record) -> bool:
    """The recorded process has exited: its pid is free, a zombie, or runs another program.

    Not the same as `not _is_ours`: a process being killed loses its memory, and so its command line, before
    its files. Until it is a zombie its sockets are open: a listening port still completes connections (which
    are then reset), so a balancer may send a request to a server that dies without answering instead of
    finding the port refused.
    """
    if _state(record.pid) in (None, "Z", "X"):
        return True
    cmdline = _cmdline(record.pid)
    return bool(cmdline) and bool(record.argv) and not _runs(cmdline, record)


class Processes:
    """The processes of one StateDir."""

    def __init__(self, state: StateDir) -> None:
        self.state = state.make()

    def _path(self, name: str) -> Path:
        return self.state.run / f"{name}.json"

    def record(self, name: str) -> Optional[Record]:
        path = self._path(name)
        if not path.exists():
            return None
        try:
            return Record(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def records(self) -> list[Record]:
        found = []
        for path in sorted(self.state.run.glob("*.json")):
            record = self.record(path.stem)
            if record:
                found.append(record)
        return found

    def alive(self, name: str) -> bool:
        record = self.record(name)
        return record is not None and _is_ours(record)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        ports: Optional[Mapping[str, int]] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[Path] = None,
    ) -> Record:
        """Starts argv in its own session, output appended to logs/<name>.log, and records it."""
        if self.alive(name):
            raise RuntimeError(f"{name} already runs (pid {self.record(name).pid})")
        log = open(self.state.log_of(name), "ab")  # noqa: SIM115 -- handed to the child
        with log:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                close_fds=True,
            )
        record = Record(name, child.pid, list(argv), dict(ports or {}), time.time())
        self._path(name).write_text(json.dumps(asdict(record)))
        # Popen returns once the child has exec'd, but /proc may show the new program a moment later; a caller
        # that signals at once must find it ours. A child that exits at once is left to the caller's wait.
        try:
            wait_until(lambda: _is_ours(record) or child.poll() is not None, 5.0, f"{name} starting", every=0.005)
        except WaitTimeout:
            pass
        return record

    def adopt(self, name: str, pid: int, argv: Sequence[str], ports: Optional[Mapping[str, int]] = None) -> Record:
        """Records a process that daemonized itself (its pid read from its own pid file)."""
        record = Record(name, pid, list(argv), dict(ports or {}), time.time())
        self._path(name).write_text(json.dumps(asdict(record)))
        return record

    def send(self, name: str, sig: int) -> bool:
        """Sends `sig` to the recorded process if it is still ours; False when it was not running."""
        record = self.record(name)
        if record is None or not _is_ours(record):
            return False
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def gone(self, name: str) -> bool:
        """The recorded process has exited, its files and sockets closed (not merely no longer `alive`)."""
        record = self.record(name)
        return record is None or _gone(record)

    def stop(self, name: str, timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
        """Stops the recorded process (SIGTERM, then SIGKILL after `timeout`) and forgets it."""
        if self.send(name, sig):
            try:
                wait_until(lambda: self.gone(name), timeout, f"{name} stopping")
            except WaitTimeout:
                self.send(name, signal.SIGKILL)
                wait_until(lambda: self.gone(name), 10.0, f"{name} killed")
        self.forget(name)

    def kill9(self, name: str) -> bool:
        """SIGKILL, as a crash: the record stays, so the process can be started again in its place. Returns
        once the process is gone: its ports refuse connections."""
        killed = self.send(name, signal.SIGKILL)
        if killed:
            wait_until(lambda: self.gone(name), 10.0, f"{name} killed")
        return killed

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
