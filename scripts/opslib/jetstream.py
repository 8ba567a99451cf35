"""A few JetStream API requests over NATS's text protocol, standard library only (issue 16's outbox check).

Enough to read what a chaos run needs from the MARQUEE stream: its state (`stream_info`), a stored message with
its headers by sequence (`messages`, pipelined), and a durable consumer's counters (`consumer_info`). One TCP
connection to one node of the cluster; every request is `PUB $JS.API.... <inbox>` and its answer is the
message on that inbox (https://docs.nats.io/reference/reference-protocols/nats-protocol).
"""

from __future__ import annotations

import base64
import json
import socket
from typing import Iterable, Iterator, Optional
from urllib.parse import urlparse

INBOX = "_INBOX.marquee-chaos"


def parse_headers(block: bytes) -> dict[str, str]:
    """A NATS header block (`NATS/1.0\\r\\nName: value\\r\\n...\\r\\n\\r\\n`) as a dict; the status line is dropped.
    A name given twice keeps its first value (Nats-Msg-Id is given once)."""
    headers: dict[str, str] = {}
    lines = block.decode(errors="replace").split("\r\n")
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip() and name.strip() not in headers:
            headers[name.strip()] = value.strip()
    return headers


def stored_message(answer: dict) -> Optional[dict]:
    """The `message` of a STREAM.MSG.GET answer as {seq, subject, msg_id, data (bytes)}; None for an error answer
    (a sequence that was deleted or never stored)."""
    message = answer.get("message")
    if not isinstance(message, dict):
        return None
    headers = parse_headers(base64.b64decode(message.get("hdrs") or "")) if message.get("hdrs") else {}
    return {
        "seq": int(message.get("seq", 0)),
        "subject": str(message.get("subject", "")),
        "msg_id": headers.get("Nats-Msg-Id", ""),
        "data": base64.b64decode(message.get("data") or ""),
    }


def first_url(urls: str) -> tuple[str, int]:
    """host and port of the first nats:// URL of a comma-separated list."""
    parsed = urlparse(urls.split(",")[0].strip())
    return parsed.hostname or "127.0.0.1", parsed.port or 4222


class JetStream:
    """One connection; requests answered in order of their inbox names."""

    def __init__(self, urls: str, timeout: float = 10.0) -> None:
        self._buffer = b""
        last: Optional[OSError] = None
        for url in urls.split(","):
            host, port = first_url(url)
            try:
                self._sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError as error:
                last = error
        else:
            raise ConnectionError(f"no NATS node answers ({urls}): {last}")
        self._line()  # INFO {...}
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "protocol": 1,
                   "name": "marquee-chaos-check"}  # fmt: skip
        self._send(f"CONNECT {json.dumps(connect)}\r\nSUB {INBOX}.* 1\r\nPING\r\n".encode())
        while True:
            kind, _, _ = self._next()
            if kind == "PONG":
                break
        self._counter = 0

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "JetStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol --------------------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def _fill(self) -> None:
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("NATS closed the connection")
        self._buffer += chunk

    def _line(self) -> str:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def _bytes(self, count: int) -> bytes:
        while len(self._buffer) < count + 2:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count + 2 :]
        return data

    def _next(self) -> tuple[str, str, bytes]:
        """The next protocol message: (kind, subject, payload); PINGs are answered here."""
        while True:
            line = self._line()
            op = line.split(" ", 1)[0].upper()
            if op == "PING":
                self._send(b"PONG\r\n")
                continue
            if op in ("+OK", "INFO", ""):
                continue
            if op == "-ERR":
                raise RuntimeError(f"NATS: {line}")
            if op == "MSG":
                parts = line.split()
                return "MSG", parts[1], self._bytes(int(parts[-1]))
            if op == "HMSG":
                parts = line.split()
                header_len, total = int(parts[-2]), int(parts[-1])
                payload = self._bytes(total)
                return "HMSG", parts[1], payload[header_len:]
            return op, "", b""

    def _answers(self, requests: Iterable[tuple[str, bytes]], window: int = 256) -> Iterator[dict]:
        """Sends the requests pipelined (at most `window` unanswered) and yields their JSON answers in order."""
        pending: dict[str, Optional[dict]] = {}
        order: list[str] = []
        it = iter(requests)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                try:
                    subject, payload = next(it)
                except StopIteration:
                    exhausted = True
                    break
                self._counter += 1
                inbox = f"{INBOX}.{self._counter}"
                pending[inbox] = None
                order.append(inbox)
                self._send(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
            if not order:
                return
            while pending[order[0]] is None:
                kind, subject, payload = self._next()
                if kind in ("MSG", "HMSG") and subject in pending:
                    try:
                        pending[subject] = json.loads(payload or b"{}")
                    except ValueError:
                        pending[subject] = {"error": {"description": "unreadable answer"}}
            head = order.pop(0)
            yield pending.pop(head) or {}

    def request(self, subject: str, body: Optional[dict] = None) -> dict:
        payload = json.dumps(body).encode() if body is not None else b""
        return next(self._answers([(subject, payload)]))

    # -- JetStream -------------------------------------------------------------------------------------------
    def stream_info(self, stream: str, subjects_filter: Optional[str] = None) -> dict:
        body = {"subjects_filter": subjects_filter} if subjects_filter else None
        return self.request(f"$JS.API.STREAM.INFO.{stream}", body)

    def consumer_info(self, stream: str, durable: str) -> dict:
        return self.request(f"$JS.API.CONSUMER.INFO.{stream}.{durable}")

    def messages(self, stream: str, first: int, last: int) -> Iterator[dict]:
        """The stored messages with sequence first..last (a deleted sequence is skipped)."""
        requests = (
            (f"$JS.API.STREAM.MSG.GET.{stream}", json.dumps({"seq": seq}).encode()) for seq in range(first, last + 1)
        )
        for answer in self._answers(requests):
            found = stored_message(answer)
            if found is not None:
                yield found
