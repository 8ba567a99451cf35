"""The chaos run's outbox and money checks (outbox_check.py) and the JetStream reader they use (jetstream.py),
without engines: a fake NATS server on loopback speaks the protocol's few lines."""

import base64
import json
import socket
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opslib.chaos import Verdict, conditions  # noqa: E402
from opslib.jetstream import JetStream, parse_headers, stored_message  # noqa: E402
from opslib.outbox_check import Books, EventsBefore, describe_events, judge_events, money_difference  # noqa: E402


def stored(seq: int, msg_id: str, subject: str = "marquee.reservation.held") -> dict:
    return {"seq": seq, "subject": subject, "msg_id": msg_id}


def consumer(delivered: int, ack_floor: int, pending: int = 0, ack_pending: int = 0) -> dict:
    return {
        "delivered": {"consumer_seq": delivered, "stream_seq": ack_floor},
        "ack_floor": {"consumer_seq": delivered, "stream_seq": ack_floor},
        "num_pending": pending,
        "num_ack_pending": ack_pending,
    }


class JudgeEventsTest(unittest.TestCase):
    def test_every_event_stored_once_and_acked_passes_and_redeliveries_are_counted(self) -> None:
        before = EventsBefore(outbox_max={"booking.outbox": 10}, stream_last_seq=100, consumer_deliveries=50)
        rows = [("a", "reservation.held", True), ("b", "reservation.confirmed", True), ("c", "payment.approved", True)]
        messages = [stored(101, "a"), stored(102, "c", "marquee.payment.approved"), stored(103, "b", "marquee.reservation.confirmed")]
        # Two reservation events, four deliveries: two redeliveries (a catalog replica died holding them).
        report = judge_events(before, rows, messages, consumer(delivered=54, ack_floor=103))
        self.assertTrue(report.ok, report.problems)
        self.assertEqual((report.events, report.consumed_events, report.deliveries, report.redelivered), (3, 2, 4, 2))
        self.assertEqual(report.by_type, {"reservation.held": 1, "reservation.confirmed": 1, "payment.approved": 1})
        self.assertIn("2 redeliveries", describe_events(report))

    def test_a_lost_an_unpublished_and_a_doubled_event_each_fail(self) -> None:
        before = EventsBefore(stream_last_seq=0, consumer_deliveries=0)
        rows = [("a", "reservation.held", True), ("b", "reservation.held", True), ("c", "reservation.expired", False)]
        # b marked published but never stored; a stored twice (a publish repeated beyond the duplicate window).
        messages = [stored(1, "a"), stored(2, "a"), stored(3, "old-row")]
        report = judge_events(before, rows, messages, consumer(delivered=3, ack_floor=3))
        self.assertFalse(report.ok)
        self.assertEqual((report.missing, report.unpublished, report.stored_twice, report.strangers), (1, 1, 1, 1))
        self.assertEqual(len(report.problems), 3)

    def test_events_the_consumer_has_not_acked_fail(self) -> None:
        before = EventsBefore(stream_last_seq=0)
        rows = [("a", "reservation.held", True), ("b", "reservation.held", True)]
        messages = [stored(1, "a"), stored(2, "b")]
        behind = judge_events(before, rows, messages, consumer(delivered=2, ack_floor=1, ack_pending=1))
        self.assertFalse(behind.consumed_all)
        self.assertIn("ack floor 1 < last event 2", behind.problems[0])
        missing = judge_events(before, rows, messages, {"error": {"code": 404, "description": "consumer not found"}})
        self.assertFalse(missing.ok)

    def test_a_consumer_created_during_the_run_counts_all_its_deliveries(self) -> None:
        before = EventsBefore(stream_last_seq=0, consumer_deliveries=0, consumer_missing=True)
        report = judge_events(before, [("a", "reservation.held", True)], [stored(1, "a")], consumer(1, 1))
        self.assertTrue(report.ok)
        self.assertEqual(report.redelivered, 0)


class MoneyTest(unittest.TestCase):
    def test_the_books_are_compared_over_the_run_only(self) -> None:
        self.assertEqual(money_difference(Books(gateway=1000, marquee=900), Books(gateway=6000, marquee=5900)), 0)
        # The gateway kept 500 more than Marquee booked: a charge approved there and lost here.
        self.assertEqual(money_difference(Books(0, 0), Books(gateway=5500, marquee=5000)), 500)


class ConditionsTest(unittest.TestCase):
    def test_each_condition_is_printed_with_its_first_problem(self) -> None:
        verdict = Verdict()
        verdict.fail("seats", "3 seats sold twice")
        verdict.fail("seats", "the sale did not end by itself")
        lines = conditions(verdict)
        self.assertTrue(lines[0].startswith("FAIL  every seat sold at most once"))
        self.assertIn("3 seats sold twice (+1 more)", lines[0])
        self.assertTrue(lines[1].startswith("PASS  0 lost or doubled money"))
        self.assertTrue(lines[2].startswith("NOT CHECKED"))
        self.assertFalse(verdict.ok)


class HeadersTest(unittest.TestCase):
    def test_headers_and_a_stored_message_are_read(self) -> None:
        block = b"NATS/1.0\r\nNats-Msg-Id: 7f3c\r\ntraceparent: 00-ab-cd-01\r\n\r\n"
        self.assertEqual(parse_headers(block), {"Nats-Msg-Id": "7f3c", "traceparent": "00-ab-cd-01"})
        answer = {"message": {"subject": "marquee.reservation.held", "seq": 9,
                              "hdrs": base64.b64encode(block).decode(), "data": base64.b64encode(b"{}").decode()}}  # fmt: skip
        self.assertEqual(stored_message(answer)["msg_id"], "7f3c")
        self.assertIsNone(stored_message({"error": {"code": 404, "description": "no message found"}}))


class FakeNats:
    """Answers CONNECT/PING and the JetStream requests the checks make, from a dict of stored messages."""

    def __init__(self, messages: dict[int, tuple[str, str]]) -> None:
        self.messages = messages
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def answer(self, subject: str, payload: bytes) -> dict:
        if subject == "$JS.API.STREAM.INFO.MARQUEE":
            return {"state": {"last_seq": max(self.messages)}}
        if subject.startswith("$JS.API.CONSUMER.INFO."):
            return consumer(delivered=len(self.messages), ack_floor=max(self.messages))
        seq = json.loads(payload)["seq"]
        if seq not in self.messages:
            return {"error": {"code": 404, "err_code": 10037, "description": "no message found"}}
        subject_of, msg_id = self.messages[seq]
        hdrs = base64.b64encode(f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n\r\n".encode()).decode()
        return {"message": {"subject": subject_of, "seq": seq, "hdrs": hdrs, "data": ""}}

    def serve(self) -> None:
        conn, _ = self.server.accept()
        conn.sendall(b'INFO {"server_id":"fake","headers":true}\r\n')
        buffer = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n" in buffer:
                    line, rest = buffer.split(b"\r\n", 1)
                    parts = line.decode().split()
                    if parts and parts[0] == "PUB":
                        size = int(parts[-1])
                        if len(rest) < size + 2:
                            break
                        payload, buffer = rest[:size], rest[size + 2 :]
                        body = json.dumps(self.answer(parts[1], payload)).encode()
                        # Every answer as HMSG with an empty header block, and a PING in between, as a server may.
                        head = b"NATS/1.0\r\n\r\n"
                        conn.sendall(b"PING\r\n" + f"HMSG {parts[2]} 1 {len(head)} {len(head) + len(body)}\r\n".encode()
                                     + head + body + b"\r\n")  # fmt: skip
                        continue
                    buffer = rest
                    if parts and parts[0] == "PING":
                        conn.sendall(b"PONG\r\n")


class JetStreamTest(unittest.TestCase):
    def test_pipelined_gets_come_back_in_order_and_a_deleted_sequence_is_skipped(self) -> None:
        stored_messages = {seq: ("marquee.reservation.held", f"id-{seq}") for seq in range(1, 601) if seq != 300}
        fake = FakeNats(stored_messages)
        with JetStream(f"nats://127.0.0.1:{fake.port}") as js:
            self.assertEqual(js.stream_info("MARQUEE")["state"]["last_seq"], 600)
            found = list(js.messages("MARQUEE", 1, 600))
            self.assertEqual([m["seq"] for m in found], [s for s in range(1, 601) if s != 300])
            self.assertEqual(found[0]["msg_id"], "id-1")
            self.assertEqual(js.consumer_info("MARQUEE", "catalog-availability")["num_pending"], 0)


if __name__ == "__main__":
    unittest.main()
