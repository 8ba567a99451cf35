"""Issue 16's "every outbox event is delivered at least once and consumed once", and "0 lost or doubled money"
against the gateway's own books, for a chaos run (scripts/opslib/chaos.py).

Events. Booking and payment write each event in the same transaction as the change it reports
(`booking.outbox`, `payment.outbox`: `event_id`, `event_type`, `published_at`); the relay (src/outbox)
publishes it to the MARQUEE stream with `Nats-Msg-Id` = `event_id` and marks the row once JetStream acked it.
The one consumer is catalog's durable `catalog-availability` of `marquee.reservation.>` (every catalog replica
binds it); it acks an event once its seats are marked, and marking is idempotent (it sets a state), so a
redelivery is harmless by design. The check, over the rows written during the run (`id` above the maximum seen
before it) and the stream's messages stored during it (sequence above the last one before it):

- delivered at least once: every row is marked published and its `event_id` is stored in the stream;
- stored once: no `event_id` is stored twice (a publish the relay repeated after JetStream's 2-minute duplicate
  window would be; inside it JetStream drops the repeat): two stored copies would be two events to the
  consumer, each applied;
- consumed: the durable has nothing pending or unacknowledged and its ack floor is at or past the last
  reservation event of the run, so every reservation event was acked by a catalog replica after its marks;
- duplicates seen: deliveries (the consumer's delivery sequence advanced by one per delivery, redeliveries
  included) beyond one per reservation event: redeliveries (a catalog replica killed holding a batch, an ack
  lost with a NATS node). Each was marked again; marking sets a state, so the effect of one event applied
  twice is the effect of applying it once. Whether an old event re-applied after a newer one left a wrong bit
  behind is what the run's last check shows (the availability bitset equals `booking.seat_states()`).

Payment events have no consumer in Marquee: for them only delivery is checked.

Money. The gateway (pg-sim) counts what it approved and cancelled (`GET /v1/admin/stats`); Marquee's books hold
the card parts of APPROVED payments and the APPROVED wallet top-ups. Over the run, once nothing is PENDING, the
change in one equals the change in the other (as `scripts/faults` checks for a single stack).
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from .books import MARQUEE_CARD_MONEY, gateway_kept

OUTBOXES = ("booking.outbox", "payment.outbox")
STREAM = "MARQUEE"
DURABLE = "catalog-availability"
CONSUMED_PREFIX = "marquee.reservation."


@dataclass
class EventsBefore:
    outbox_max: dict[str, int] = field(default_factory=dict)  # table -> max(id) before the run
    stream_last_seq: int = 0
    consumer_deliveries: int = 0  # the durable's delivered.consumer_seq before the run
    consumer_missing: bool = False  # the durable did not exist yet (catalog binds it at its start)


@dataclass
class EventsReport:
    events: int = 0  # outbox rows written during the run
    by_type: dict[str, int] = field(default_factory=dict)
    unpublished: int = 0  # rows still without published_at
    missing: int = 0  # published rows whose event_id is not in the stream
    stored_twice: int = 0  # event_ids stored more than once
    strangers: int = 0  # stream messages of the run whose Nats-Msg-Id is no row of the run
    consumed_events: int = 0  # reservation events stored during the run
    deliveries: int = 0  # deliveries of the durable during the run (redeliveries included)
    redelivered: int = 0  # deliveries beyond one per event
    pending: int = 0  # num_pending + num_ack_pending of the durable at the end
    ack_floor: int = 0
    last_consumed_seq: int = 0
    consumed_all: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge_events(
    before: EventsBefore,
    rows: Iterable[tuple[str, str, bool]],
    stored: Iterable[dict],
    consumer: dict,
) -> EventsReport:
    """rows: (event_id, event_type, published) of the outbox rows of the run; stored: the stream's messages of
    the run ({seq, subject, msg_id}); consumer: the durable's CONSUMER.INFO answer at the end."""
    report = EventsReport()
    rows = list(rows)
    stored = list(stored)
    report.events = len(rows)
    report.by_type = dict(Counter(event_type for _, event_type, _ in rows))
    report.unpublished = sum(1 for _, _, published in rows if not published)
    copies = Counter(m["msg_id"] for m in stored)
    ids = {event_id for event_id, _, _ in rows}
    report.missing = sum(1 for event_id, _, published in rows if published and copies[event_id] == 0)
    report.stored_twice = sum(1 for event_id in ids if copies[event_id] > 1)
    report.strangers = sum(count for msg_id, count in copies.items() if msg_id not in ids)
    consumed = [m for m in stored if m["subject"].startswith(CONSUMED_PREFIX)]
    report.consumed_events = len(consumed)
    report.last_consumed_seq = max((m["seq"] for m in consumed), default=0)
    delivered = (consumer.get("delivered") or {}).get("consumer_seq", 0)
    report.deliveries = max(0, int(delivered) - (0 if before.consumer_missing else before.consumer_deliveries))
    report.redelivered = max(0, report.deliveries - report.consumed_events)
    report.pending = int(consumer.get("num_pending", 0) or 0) + int(consumer.get("num_ack_pending", 0) or 0)
    report.ack_floor = int((consumer.get("ack_floor") or {}).get("stream_seq", 0) or 0)
    if "error" in consumer or not consumer:
        report.problems.append(f"the {DURABLE} consumer could not be read: {consumer.get('error')}")
    report.consumed_all = report.pending == 0 and report.ack_floor >= report.last_consumed_seq and "error" not in consumer
    if report.unpublished:
        report.problems.append(f"{report.unpublished} outbox events never published")
    if report.missing:
        report.problems.append(f"{report.missing} outbox events marked published but not in the MARQUEE stream")
    if report.stored_twice:
        report.problems.append(f"{report.stored_twice} outbox events stored twice in the stream (consumed twice)")
    if not report.consumed_all and "error" not in consumer:
        report.problems.append(
            f"{DURABLE} has not consumed every reservation event: {report.pending} pending or unacked, ack floor "
            f"{report.ack_floor} < last event {report.last_consumed_seq}"
            if report.ack_floor < report.last_consumed_seq
            else f"{DURABLE} has {report.pending} events pending or unacked"
        )
    return report


def describe_events(report: EventsReport) -> str:
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in sorted(report.by_type.items()))
    return (
        f"Outbox: {report.events:,} events written during the run ({kinds}); {report.unpublished} never published, "
        f"{report.missing} missing from the stream, {report.stored_twice} stored twice"
        + (f", {report.strangers} stream messages of older rows" if report.strangers else "")
        + f"; {DURABLE}: {report.consumed_events:,} reservation events, {report.deliveries:,} deliveries, "
        f"{report.redelivered:,} redeliveries (duplicates seen, each marked again: idempotent), "
        f"{report.pending} pending or unacked at the end, ack floor {report.ack_floor:,} "
        f"(last reservation event {report.last_consumed_seq:,}): "
        + ("every event delivered at least once and consumed. " if report.ok else "NOT all delivered and consumed. ")
    )


# ------------------------------------------------------------------------------------------------ money


@dataclass
class Books:
    gateway: int  # what pg-sim kept (opslib.books.gateway_kept)
    marquee: int  # card money Marquee booked (opslib.books.MARQUEE_CARD_MONEY)


def money_difference(before: Books, after: Books) -> int:
    """What the gateway kept during the run minus what Marquee booked as card money during it."""
    return (after.gateway - before.gateway) - (after.marquee - before.marquee)


UNRESOLVED = (
    "SELECT (SELECT count(*) FROM payment.payments WHERE state = 'PENDING' OR (state = 'FAILED' AND"
    " pg_status = 'APPROVED')) + (SELECT count(*) FROM wallet.charges WHERE state = 'PENDING')"
)


def gateway_books(gateway_url: str) -> int:
    with urllib.request.urlopen(f"{gateway_url.rstrip('/')}/v1/admin/stats", timeout=5) as response:
        stats = json.loads(response.read())
    return gateway_kept(stats)


def books(gateway_url: str, sql: Callable[[str], str]) -> Books:
    return Books(gateway=gateway_books(gateway_url), marquee=int(sql(MARQUEE_CARD_MONEY) or 0))


# ------------------------------------------------------------------------------------------------ reading


def outbox_max(sql: Callable[[str], str]) -> dict[str, int]:
    return {table: int(sql(f"SELECT coalesce(max(id), 0) FROM {table}") or 0) for table in OUTBOXES}


def outbox_rows(sql: Callable[[str], str], since: dict[str, int]) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    for table in OUTBOXES:
        text = sql(
            f"SELECT event_id::text || '|' || event_type || '|' || (published_at IS NOT NULL)::text FROM {table}"
            f" WHERE id > {int(since.get(table, 0))} ORDER BY id"
        )
        for line in text.splitlines():
            event_id, event_type, published = line.split("|")
            rows.append((event_id, event_type, published == "true"))
    return rows


def events_before(nats_urls: str, sql: Callable[[str], str]) -> EventsBefore:
    from .jetstream import JetStream  # noqa: PLC0415

    before = EventsBefore(outbox_max=outbox_max(sql))
    with JetStream(nats_urls) as js:
        info = js.stream_info(STREAM)
        before.stream_last_seq = int((info.get("state") or {}).get("last_seq", 0) or 0)
        consumer = js.consumer_info(STREAM, DURABLE)
        if "error" in consumer:
            before.consumer_missing = True
        else:
            before.consumer_deliveries = int((consumer.get("delivered") or {}).get("consumer_seq", 0) or 0)
    return before


def events_after(nats_urls: str, sql: Callable[[str], str], before: EventsBefore) -> EventsReport:
    from .jetstream import JetStream  # noqa: PLC0415

    rows = outbox_rows(sql, before.outbox_max)
    with JetStream(nats_urls) as js:
        info = js.stream_info(STREAM)
        last = int((info.get("state") or {}).get("last_seq", 0) or 0)
        stored = list(js.messages(STREAM, before.stream_last_seq + 1, last)) if last > before.stream_last_seq else []
        consumer = js.consumer_info(STREAM, DURABLE)
    return judge_events(before, rows, stored, consumer)


def settled(nats_urls: str, sql: Callable[[str], str], before: EventsBefore) -> bool:
    """Every outbox row of the run is published and the durable has nothing pending: the end state to judge."""
    from .jetstream import JetStream  # noqa: PLC0415

    for table in OUTBOXES:
        if sql(f"SELECT count(*) FROM {table} WHERE id > {int(before.outbox_max.get(table, 0))}"
               " AND published_at IS NULL") != "0":  # fmt: skip
            return False
    with JetStream(nats_urls) as js:
        consumer = js.consumer_info(STREAM, DURABLE)
    if "error" in consumer:
        return False
    return int(consumer.get("num_pending", 0) or 0) + int(consumer.get("num_ack_pending", 0) or 0) == 0


def optional_int(value: Optional[str]) -> int:
    return int(value) if value else 0
