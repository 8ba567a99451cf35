"""The fault recipes of scripts/faults (issue 7; on opslib since issue 16, ADR 0030).

Each recipe is one function `recipe(stack, out)`: it starts the Marquee processes it needs on its private
`Stack`, breaks one thing while fans use it, and writes its figures and problems into `out` (an `Outcome`).
`run_recipe` brings the stack up and down around it and ends with scripts/check-invariants; `main` is the
command line that scripts/faults has always had.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from .faults_checks import (
    Outcome,
    approved_payments,
    availability_matches,
    check_invariants,
    count_of,
    double_sales,
    money_mismatch,
    outbox_unpublished,
    sold_seats,
    unresolved,
)
from .faults_stack import (
    FAULTS_HOME,
    ROOT,
    Clients,
    RecipeError,
    Stack,
    Tally,
    jwt_iat,
    libfaketime,
    marquee_bin,
    metric_value,
    number,
    pgsim_bin,
    preload_for,
    say,
    within,
)

NATS_DOWN_S = int(os.environ.get("FAULTS_NATS_DOWN_S", 30))
# A fan in a loop (the redis race, the postgres pause) waits this long before asking again: a fan clicking,
# not a load test (the curl loops of the bash recipes were paced by their own start-up, about 0.5 s a request).
THINK_S = 0.2
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def clock() -> float:
    return time.monotonic()


# ---------------------------------------------------------------------------------------------------------
# 1. kill -9 Marquee in the middle of a stream of card payments; restart it; recovery resolves every PENDING
#    payment against pg-sim; no money mismatch.


def crash(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--recovery-age-s=5")
    schedule_id = stack.schedule(40, 50000)
    fans = stack.held_fans(api, 16, schedule_id)
    # Slow answers, so payments are in flight when the process dies.
    stack.pgsim_faults({"latencyMs": 600, "jitterMs": 400})
    payments, clients = Tally(), Clients()
    for fan in fans:
        clients.start(lambda fan=fan: payments.add(api.pay(fan)))
        time.sleep(0.05)
    time.sleep(0.3)
    stack.stop("main", signal.SIGKILL)
    clients.wait()
    pending_at_restart = unresolved(stack)
    stack.pgsim_faults({"latencyMs": 0, "jitterMs": 0})
    api = stack.marquee("main", "--recovery-age-s=5")
    if not within(60, lambda: unresolved(stack) == 0):
        out.problem(f"{unresolved(stack)} payments still unresolved 60 s after the restart")
    # The fans' retries after the restart: the same key answers the recorded outcome, never a second charge.
    retries = Tally()
    for fan in fans:
        retries.add(api.pay(fan))
    retried_ok = retries.count(201, 202, 402, 409, 410, 503)
    out.expect(
        retried_ok == len(retries), f"{len(retries) - retried_ok} retries answered other than 201/202/402/409/410/503"
    )
    mismatch, doubles = money_mismatch(stack), double_sales(stack)
    approved, sold = approved_payments(stack), sold_seats(stack)
    out.expect(mismatch == 0, f"money mismatch {mismatch} KRW")
    out.expect(doubles == 0, f"{doubles} double sales")
    out.expect(approved == sold, f"{approved} approved payments but {sold} seats sold")
    out.figure(
        f"{len(fans)} payments, killed with {payments.count(0)} in flight, {pending_at_restart} unresolved at restart"
        f" -> 0, {approved} approved, {sold} sold, {len(retries)} retries replayed, double sales {doubles},"
        f" money mismatches {mismatch} KRW"
    )


# ---------------------------------------------------------------------------------------------------------
# 2. Redis killed during a hot-seat race: 503 problem+json with Retry-After (never a hang, never a double sale);
#    after Redis restarts, holds work again without restarting Marquee.


def redis(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--redis-timeout-ms=500")
    schedule_id = stack.schedule(40, 50000)
    hot = [stack.seat(schedule_id, i) for i in range(4)]
    fans = []
    for _ in range(16):
        fan = api.fan("hot")
        api.admit(fan, schedule_id)
        fans.append(fan)
    # Every fan wants the hot seats, one after another, for 9 s; Redis dies at 2 s and is restarted at 4 s.
    holds, clients = Tally(), Clients()
    stop_at = clock() + 9

    def race(fan) -> None:
        k = 0
        while clock() < stop_at:
            holds.add(api.hold(fan, schedule_id, hot[k % 4]))
            k += 1
            time.sleep(THINK_S)

    for fan in fans:
        clients.start(lambda fan=fan: race(fan))
    time.sleep(2)
    port = stack.kill_engine("redis")
    time.sleep(2)
    stack.restart_engine("redis", port)
    clients.wait()
    # After the restart: a new fan queues and holds (the room is back from the AOF or rebuilt from PostgreSQL,
    # ADR 0022).
    start = clock()
    late = api.fan("after")
    api.admit(late, schedule_id)
    after = api.hold(late, schedule_id, stack.seat(schedule_id, 20)).code
    recovered_in = int(clock() - start) if after == "201" else -1
    # A Redis that hangs instead of refusing connections: SIGSTOP for the length of 8 holds; each must end with
    # a 503 within the 500 ms Redis deadline (+ 1 s), never wait for Redis to come back.
    stalled = Tally()
    spare = stack.seats(schedule_id, 30)
    stack.pause([stack.service_pid("redis")])
    for i in range(8):
        stalled.add(api.hold(late, schedule_id, spare[i]))
    stack.resume()
    stalled_503, stalled_slowest = stalled.where(lambda a: a.good_503), stalled.slowest_ms()
    s503, s503_good = holds.count(503), holds.where(lambda a: a.good_503)
    hung, refused = holds.count(0), holds.count(403, 410)
    other = len(holds) - holds.count(201) - holds.count(409) - s503 - hung - refused
    doubles = double_sales(stack)
    out.expect(s503 > 0, "no 503 while Redis was down")
    out.expect(s503 == s503_good, f"{s503 - s503_good} 503s without Retry-After or problem+json")
    out.expect(hung == 0, f"{hung} requests got no answer within {stack.curl_max_s:g}s")
    out.expect(other == 0, f"{other} other statuses: {holds.statuses()}")
    out.expect(doubles == 0, f"{doubles} double sales")
    out.expect(after == "201", f"hold after the Redis restart answered {after}")
    out.expect(stalled_503 == 8, f"a stopped Redis: {stalled_503} of 8 holds answered 503 problem+json")
    out.expect(stalled_slowest <= 1500, f"a stopped Redis: slowest hold {stalled_slowest} ms")
    log = (stack.logs / "main.log").read_text(errors="replace").splitlines()
    aof = os.environ.get("MARQUEE_REDIS_AOF", "yes")
    rebuilds = sum("queue rebuilt from PostgreSQL" in line for line in log)
    put_backs = sum("queue tokens put back from PostgreSQL" in line for line in log)
    out.figure(
        f"{len(holds)} holds: {holds.count(201)} 201, {holds.count(409)} 409, {s503} 503"
        f" (all with Retry-After: {yes_no(s503 == s503_good)}), {refused} 403/410 to fans holding a token"
        f" (target 0; Redis AOF {aof}, {rebuilds} rebuilds, {put_backs} put-backs),"
        f" {hung} hung, hold after restart {after} in {recovered_in}s; Redis stopped (SIGSTOP): {stalled_503} of 8"
        f" holds 503, slowest {stalled_slowest} ms (Redis deadline 500 ms); double sales {doubles}"
    )


# ---------------------------------------------------------------------------------------------------------
# 3. NATS down for FAULTS_NATS_DOWN_S during holds and payments: the outbox grows, then drains after NATS
#    returns; no event lost or applied twice; the availability bitset converges to booking's seat states.


def nats(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--hold-ttl-s=600")
    schedule_id = stack.schedule(40, 50000)
    first = stack.held_fans(api, 4, schedule_id)
    port = stack.kill_engine("nats")
    down_at = clock()
    # While NATS is down: more fans hold (those queued before it died) and pay.
    requests = Tally()
    for i in range(12):
        fan = api.fan("nats")
        api.admit(fan, schedule_id)
        held = requests.add(api.hold(fan, schedule_id, stack.seat(schedule_id, 10 + i)))
        if held.status == 201 and i % 2 == 0:
            requests.add(api.pay(fan))
    for fan in first:
        requests.add(api.pay(fan))
    backlog = outbox_unpublished(stack)
    time.sleep(max(0, NATS_DOWN_S - int(clock() - down_at)))
    stack.restart_engine("nats", port)
    start, drained = clock(), -1
    if within(60, lambda: outbox_unpublished(stack) == 0):
        drained = int(clock() - start)
    else:
        out.problem("outbox not drained 60 s after NATS returned")
    # Events in the stream vs outbox rows: each row exactly once (the relay's Nats-Msg-Id dedupes a re-publish).
    rows = stack.sql_int("SELECT (SELECT count(*) FROM booking.outbox) + (SELECT count(*) FROM payment.outbox)")
    stream = stack.stream_messages()
    out.expect(rows == stream, f"{rows} outbox rows but {stream} messages in the stream")
    start, converged, diff = clock(), -1, [""]

    def converges() -> bool:
        diff[0] = availability_matches(stack, "main", schedule_id)
        return not diff[0]

    if within(30, converges):
        converged = int(clock() - start)
    else:
        out.problem(f"availability differs from booking's seat states: {diff[0]}")
    doubles, mismatch = double_sales(stack), money_mismatch(stack)
    bad = len(requests) - requests.count(201, 202)
    out.expect(bad == 0, f"{bad} requests failed while NATS was down: {requests.statuses()}")
    out.expect(doubles == 0, f"{doubles} double sales")
    out.expect(mismatch == 0, f"money mismatch {mismatch} KRW")
    out.figure(
        f"NATS down {NATS_DOWN_S}s: {len(requests)} requests all served, outbox backlog {backlog} -> 0 in {drained}s"
        f" after NATS returned, {rows} outbox rows = {stream} stream messages, availability converged in"
        f" {converged}s, double sales {doubles}, money mismatches {mismatch} KRW"
    )


# ---------------------------------------------------------------------------------------------------------
# 4. pg-sim: approved but the answer lost, timeouts, 30 % failures, fully down (circuit opens, clear 503); no
#    double charge and no lost charge.

PGSIM_PHASES = [
    ("lost", {"lostRate": 1, "hangMs": 1500}),
    ("timeout", {"lostRate": 0, "timeoutRate": 1, "hangMs": 1500}),
    ("30%-errors", {"timeoutRate": 0, "errorRate": 0.3}),
    ("down", {"errorRate": 0, "down": True}),
]


def pgsim(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--recovery-age-s=5", "--payment-gateway-timeout-ms=1000")
    schedule_id = stack.schedule(40, 50000)
    fans = stack.held_fans(api, 12, schedule_id)
    payments, phase_of = Tally(), []
    for i, fan in enumerate(fans):
        name, faults = PGSIM_PHASES[i * 4 // len(fans)]
        if i * 4 % len(fans) == 0:
            stack.pgsim_faults(faults)
        paid = payments.add(api.pay(fan))
        phase_of.append(f"{name}:{paid.code}")
    # The last phase: every answer must be a quick 503 problem+json naming pg; the circuit must be open.
    circuit = metric_value(stack.metrics("main"), 'payment_gateway_circuit_open{caller="payment"}')
    stack.pgsim_faults({"down": False, "errorRate": 0, "lostRate": 0, "timeoutRate": 0})
    if not within(60, lambda: unresolved(stack) == 0):
        out.problem(f"{unresolved(stack)} payments still unresolved after 60 s")
    down_total = sum(p.startswith("down:") for p in phase_of)
    down_503 = phase_of.count("down:503")
    hung, mismatch, doubles = payments.count(0), money_mismatch(stack), double_sales(stack)
    approved, sold = approved_payments(stack), sold_seats(stack)
    out.expect(down_503 == down_total, f"gateway down: {down_503} of {down_total} answers were 503")
    out.expect(hung == 0, f"{hung} payments got no answer within {stack.curl_max_s:g}s")
    out.expect(circuit == "1", f"circuit not open while the gateway was down (gauge '{circuit}')")
    out.expect(mismatch == 0, f"money mismatch {mismatch} KRW")
    out.expect(doubles == 0, f"{doubles} double sales")
    out.expect(approved == sold, f"{approved} approved payments but {sold} seats sold")
    by_phase = " ".join(f"{phase_of.count(p)} {p}" for p in sorted(set(phase_of)))
    out.figure(
        f"{len(fans)} payments by phase: {by_phase} -> {approved} approved, circuit open {circuit}, {hung} hung,"
        f" double sales {doubles}, money mismatches {mismatch} KRW"
    )


# ---------------------------------------------------------------------------------------------------------
# 5. PostgreSQL paused (SIGSTOP) for 5 s: requests end within their deadline with 503 problem+json; the pool
#    recovers after SIGCONT.


def postgres(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--db-timeout-ms=2000", "--db-pool-size=4")
    schedule_id = stack.schedule(40, 50000)
    fan = api.fan("paused")
    api.admit(fan, schedule_id)
    seat_ids = stack.seats(schedule_id)
    wallet = lambda: api.client.get("/api/v1/wallet", fan.token)  # noqa: E731
    requests, clients = Tally(), Clients()
    stack.pause_postgres()
    paused_at = clock()

    # Twelve clients, reads and holds, during the pause.
    def client(i: int) -> None:
        while clock() - paused_at < 5:
            requests.add(wallet() if i % 2 == 0 else api.hold(fan, schedule_id, seat_ids[i]))
            time.sleep(THINK_S)

    for i in range(12):
        clients.start(lambda i=i: client(i))
    time.sleep(5)
    stack.resume()
    clients.wait()
    start, recovered = clock(), -1
    if within(20, lambda: wallet().status == 200):
        recovered = int(clock() - start)
    else:
        out.problem("the pool did not recover within 20 s of SIGCONT")
    s503, s503_good, hung = requests.count(503), requests.where(lambda a: a.good_503), requests.count(0)
    slowest = requests.slowest_ms()
    other = requests.where(lambda a: a.status >= 500 or a.status == 0) - s503 - hung
    out.expect(s503 > 0, "no 503 while PostgreSQL was paused")
    out.expect(s503 == s503_good, f"{s503 - s503_good} 503s without Retry-After or problem+json")
    out.expect(hung == 0, f"{hung} requests got no answer within {stack.curl_max_s:g}s")
    out.expect(other == 0, f"other 5xx: {requests.statuses()}")
    out.expect(slowest <= 3000, f"slowest answer {slowest} ms, beyond the 2 s deadline + 1 s")
    answered = requests.where(lambda a: 200 <= a.status < 500)
    out.figure(
        f"{len(requests)} requests during a 5 s pause: {s503} 503 (Retry-After + problem+json), {answered} 2xx/4xx,"
        f" {hung} hung, slowest {slowest} ms (db deadline 2000 ms), pool answering {recovered}s after SIGCONT,"
        f" double sales {double_sales(stack)}"
    )


# ---------------------------------------------------------------------------------------------------------
# 6. Two replicas of booking and queue (and payment) on one database and Redis: the sweeper, the recovery job
#    and the admission scheduler never act twice on one row or slot.


def replicas(stack: Stack, out: Outcome) -> None:
    rate, max_active, fans_n, hold_ttl = 2, 8, 14, 3
    common = [f"--hold-ttl-s={hold_ttl}", "--recovery-age-s=3", f"--queue-admit-per-second={rate}",
              f"--queue-max-active={max_active}", "--queue-tick-ms=250", "--queue-active-ttl-s=600"]
    api = stack.marquee("main", "--service=all", *common)
    booking2 = stack.marquee("booking2", "--service=booking", *common)
    queue2 = stack.marquee("queue2", "--service=queue", *common)
    stack.marquee("payment2", "--service=payment,wallet", *common)
    schedule_id = stack.schedule(60, 50000)
    fans = [api.fan("replica") for _ in range(fans_n)]
    # Admissions: every fan joins at once (half through each queue process); two schedulers tick every 250 ms.
    # Sampled from Redis every 0.25 s, the ACTIVE count must stay within rate x elapsed + one tick's burst (+1
    # for the sampling) and never pass the maximum.
    joined_at = None
    for i, fan in enumerate(fans):
        joined = (api if i % 2 == 0 else queue2).client.request(
            "POST", f"/api/v1/schedules/{schedule_id}/queue", headers={"Authorization": f"Bearer {fan.token}"}
        )
        if joined.status not in (200, 201):
            raise RecipeError(f"queue join answered {joined.code}: {joined.body.decode(errors='replace')}")
        joined_at = joined_at or clock()
    max_seen = over_rate = samples = 0
    while True:
        active = int(stack.redis("ZCARD", f"queue:{{{schedule_id}}}:active") or 0)
        elapsed_ms = int((clock() - joined_at) * 1000)
        samples += 1
        max_seen = max(max_seen, active)
        over_rate += active * 1000 > rate * elapsed_ms + 2000
        if elapsed_ms >= 6000:
            break
        time.sleep(0.25)
    out.expect(max_seen <= max_active, f"{max_seen} ACTIVE tokens, above the max of {max_active}")
    out.expect(max_seen == max_active, f"only {max_seen} admitted in 6 s (max {max_active})")
    out.expect(over_rate == 0, f"{over_rate} of {samples} samples above {rate}/s")
    admitted_a = stack.metric("main", "queue_admitted_total")
    admitted_b = stack.metric("queue2", "queue_admitted_total")
    admitted = admitted_a + admitted_b
    out.expect(
        admitted == max_seen, f"the schedulers counted {number(admitted)} admissions for {max_seen} ACTIVE tokens"
    )
    # Sweeper: the admitted fans hold a seat each and let it expire; both booking replicas sweep.
    held = 0
    for i, fan in enumerate(fans):
        if held >= 6:
            break
        queue_token = stack.sql(
            f"SELECT id FROM queue.queue_tokens WHERE schedule_id = {schedule_id} AND user_id = '{fan.user}'"
            " AND state = 'ACTIVE'"
        )
        if not queue_token:
            continue
        if booking2.hold(fan, schedule_id, stack.seat(schedule_id, 10 + i), queue=queue_token).status == 201:
            held += 1
    out.expect(held > 0, "no hold succeeded")
    if not within(30, lambda: count_of(stack, "booking.reservations", "state = 'HELD'") == 0):
        out.problem("holds not expired 30 s after their TTL")
    time.sleep(2)
    expired_a = stack.metric("main", "booking_holds_expired_total")
    expired_b = stack.metric("booking2", "booking_holds_expired_total")
    expired_rows = count_of(stack, "booking.reservations", "state = 'EXPIRED'")
    expired_events = count_of(stack, "booking.outbox", "event_type = 'reservation.expired'")
    out.expect(
        expired_a + expired_b == expired_rows and expired_events == expired_rows,
        f"{expired_rows} holds expired, sweepers counted {number(expired_a + expired_b)},"
        f" {expired_events} expired events",
    )
    out.figure(
        f"admission (2 schedulers, {rate}/s, max {max_active}): {samples} samples, max {max_seen} ACTIVE,"
        f" {over_rate} above the rate, {number(admitted)} admissions counted ({number(admitted_a)} +"
        f" {number(admitted_b)}); sweeper: {expired_rows} holds expired, counted {number(expired_a + expired_b)}"
        f" times by 2 sweepers ({number(expired_a)} + {number(expired_b)}), {expired_events} events;"
    )
    # Recovery: both payment processes die (kill -9) with card payments in flight, then restart together with a
    # 5-minute hold and both recover the same PENDING rows: each must be resolved by one of them, once.
    for name in ("main", "booking2", "queue2", "payment2"):
        stack.stop(name)
    common = ["--recovery-age-s=3", "--payment-gateway-timeout-ms=3000"]
    api = stack.marquee("main", "--service=all", *common)
    payment2 = stack.marquee("payment2", "--service=payment,wallet", *common)
    schedule2 = stack.schedule(10, 30000)
    paying = stack.held_fans(api, 8, schedule2)
    stack.pgsim_faults({"latencyMs": 1500})
    clients = Clients()
    for i, fan in enumerate(paying):
        clients.start(lambda fan=fan, i=i: (api if i % 2 == 0 else payment2).pay(fan))
    time.sleep(0.7)
    stack.stop("main", signal.SIGKILL)
    stack.stop("payment2", signal.SIGKILL)
    clients.wait()
    pending = count_of(stack, "payment.payments", "state = 'PENDING'")
    stack.pgsim_faults({"latencyMs": 0})
    stack.marquee("main", "--service=all", *common)
    stack.marquee("payment2", "--service=payment,wallet", *common)
    if not within(60, lambda: unresolved(stack) == 0):
        out.problem(f"{unresolved(stack)} payments unresolved after 60 s")
    resolved = 'payment_recoveries_total{action="resolved"}'
    recovered_a, recovered_b = stack.metric("main", resolved), stack.metric("payment2", resolved)
    recovered = recovered_a + recovered_b
    approved, sold, mismatch = approved_payments(stack), sold_seats(stack), money_mismatch(stack)
    out.expect(pending > 0, "no payment was PENDING after the kill")
    out.expect(recovered == pending, f"{pending} PENDING payments but {number(recovered)} recoveries counted")
    out.expect(mismatch == 0, f"money mismatch {mismatch} KRW")
    out.expect(approved == sold, f"{approved} approved payments but {sold} seats sold")
    out.figure(
        f"recovery: {pending} PENDING after kill -9 of both payment processes, {number(recovered)} recovered by the"
        f" 2 restarted ({number(recovered_a)} + {number(recovered_b)}) ({approved} approved, {sold} sold), double"
        f" sales {double_sales(stack)}, money mismatches {mismatch} KRW"
    )


# ---------------------------------------------------------------------------------------------------------
# 7. Clock: a hold's expiry is decided by the database clock. Marquee runs 10 minutes in the future (libfaketime)
#    with a 5-minute hold: the hold must stay HELD, expiring 5 minutes after the database's now.


def faketime_env(offset: str) -> dict[str, str]:
    """Marquee's clock moved by `offset` (libfaketime; a sanitized build gets its ASan runtime preloaded first)."""
    return {
        "LD_PRELOAD": preload_for(marquee_bin(), [str(libfaketime())]),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
    }


def clock_recipe(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--hold-ttl-s=300", env=faketime_env("+10m"))
    schedule_id = stack.schedule(10, 50000)
    fan = api.fan("clock")
    # The skew as Marquee sees it: the `iat` it wrote into the access token, against this machine's clock.
    skew = jwt_iat(fan.token) - int(time.time())
    api.admit(fan, schedule_id)
    held = api.hold(fan, schedule_id, stack.seat(schedule_id, 0))
    out.expect(
        held.status == 201, f"hold with a clock 10 min ahead answered {held.code}: {held.body.decode(errors='replace')}"
    )
    # Several sweeper passes later (it runs every second or so) the hold is still HELD, by the database.
    time.sleep(4)
    reservation = fan.reservation or ZERO_UUID
    state = stack.sql(f"SELECT state FROM booking.reservations WHERE id = '{reservation}'")
    ttl_db = stack.sql_int(
        f"SELECT round(extract(epoch FROM expires_at - now())) FROM booking.reservations WHERE id = '{reservation}'"
    )
    api_state = api.client.get(f"/api/v1/reservations/{fan.reservation}", fan.token).field("state")
    # Another fan cannot take the seat.
    other = api.fan("clock2")
    api.admit(other, schedule_id)
    second = api.hold(other, schedule_id, stack.seat(schedule_id, 0)).code
    out.expect(state == "HELD" and api_state == "HELD", f"hold is {state} in the database, {api_state} by the API")
    out.expect(280 <= ttl_db <= 300, f"hold expires in {ttl_db}s by the database clock, not ~296")
    out.expect(second == "409", f"a second fan's hold on the seat answered {second}")
    # The other way: Marquee 10 minutes behind with a 2 s hold. The database expires it on time (the sweeper's
    # statement compares with now()), not 10 minutes late.
    stack.stop("main")
    api = stack.marquee("main", "--hold-ttl-s=2", env=faketime_env("-10m"))
    behind = api.fan("behind")
    behind_skew = jwt_iat(behind.token) - int(time.time())
    api.admit(behind, schedule_id)
    held = api.hold(behind, schedule_id, stack.seat(schedule_id, 1))
    start, expired_after = clock(), -1

    def expired() -> bool:
        return stack.sql(f"SELECT state FROM booking.reservations WHERE id = '{behind.reservation}'") == "EXPIRED"

    if held.status == 201 and within(15, expired):
        expired_after = int(clock() - start)
    else:
        out.problem("a 2 s hold made by a Marquee 10 min behind was not EXPIRED within 15 s")
    out.figure(
        f"Marquee clock {skew}s ahead: hold {state} (API {api_state}), expires in {ttl_db}s by the database clock"
        f" (TTL 300), second fan {second}; Marquee clock {behind_skew}s behind: a 2 s hold EXPIRED after"
        f" {expired_after}s; double sales {double_sales(stack)}"
    )


# ---------------------------------------------------------------------------------------------------------
# 8. PostgreSQL crashes (an immediate shutdown) right after a hold and the payment of it were answered. Holds
#    commit asynchronously (ADR 0052), payments synchronously: the payment's flush carried the hold's earlier
#    WAL, so both survive. A hold answered just before the crash with no synchronous commit after it may be
#    lost (the recipe reports which); its fan's payment then answers 404, never a 5xx, and never takes money.


def pg_crash(stack: Stack, out: Outcome) -> None:
    api = stack.marquee("main", "--db-timeout-ms=2000")
    schedule_id = stack.schedule(10, 50000)
    paid, lone = api.fan("paid"), api.fan("lone")
    api.admit(paid, schedule_id)
    api.admit(lone, schedule_id)
    held = api.hold(paid, schedule_id, stack.seat(schedule_id, 0))
    payment = api.pay(paid)
    lone_held = api.hold(lone, schedule_id, stack.seat(schedule_id, 1))
    port = stack.crash_postgres()
    stack.restart_engine("postgres", port)
    out.expect(held.status == 201, f"the hold answered {held.code}: {held.body.decode(errors='replace')}")
    out.expect(payment.status == 201, f"the payment answered {payment.code}: {payment.body.decode(errors='replace')}")
    out.expect(lone_held.status == 201, f"the second hold answered {lone_held.code}")
    state = stack.sql(f"SELECT state FROM booking.reservations WHERE id = '{paid.reservation or ZERO_UUID}'")
    paid_state = stack.sql(
        f"SELECT state FROM payment.payments WHERE reservation_id = '{paid.reservation or ZERO_UUID}'"
    )
    out.expect(state == "CONFIRMED", f"the paid reservation is '{state}' after the crash, not CONFIRMED")
    out.expect(paid_state == "APPROVED", f"its payment is '{paid_state}' after the crash, not APPROVED")
    # Marquee's pool reconnects on its own; the second fan's hold is there or was lost with the WAL tail.
    lone_kept = stack.sql(f"SELECT count(*) FROM booking.reservations WHERE id = '{lone.reservation or ZERO_UUID}'")
    lone_pay = Tally()
    if within(20, lambda: lone_pay.add(api.pay(lone)).status not in (0, 503)):
        answer = lone_pay.answers[-1]
        expected = (201,) if lone_kept == "1" else (404,)
        out.expect(
            answer.status in expected,
            f"the second fan's payment answered {answer.code} with its hold {'kept' if lone_kept == '1' else 'lost'}",
        )
    else:
        out.problem(f"Marquee did not answer a payment within 20 s of PostgreSQL's restart: {lone_pay.statuses()}")
    after = api.fan("after")
    api.admit(after, schedule_id)
    again = api.hold(after, schedule_id, stack.seat(schedule_id, 2))
    out.expect(again.status == 201, f"a hold after the restart answered {again.code}")
    out.figure(
        f"hold {held.code} + payment {payment.code}, then PostgreSQL crashed: reservation {state}, payment"
        f" {paid_state}; a hold answered just before the crash {'kept' if lone_kept == '1' else 'lost'}, its"
        f" payment {lone_pay.statuses()}; a new hold after the restart {again.code}; double sales"
        f" {double_sales(stack)}"
    )


# ---------------------------------------------------------------------------------------------------------

RECIPES: dict[str, Callable[[Stack, Outcome], None]] = {
    "crash": crash,
    "redis": redis,
    "nats": nats,
    "pg-sim": pgsim,
    "postgres": postgres,
    "replicas": replicas,
    "clock": clock_recipe,
    "pg-crash": pg_crash,
}
QUICK = ["crash", "redis", "pg-sim", "postgres", "clock", "pg-crash"]


def run_recipe(name: str, home: Path = FAULTS_HOME) -> bool:
    """One recipe on a private stack, taken down however it ends; prints its PASS/FAIL line."""
    started = clock()
    stack = Stack(name, home)
    out = Outcome()
    base = stack.state.base
    shown = base.relative_to(ROOT) if base.is_relative_to(ROOT) else base
    say(f"recipe {name}: starting a private stack under {shown}")
    try:
        stack.up()
        RECIPES[name](stack, out)
        check_invariants(stack, out)
    except Exception as error:  # noqa: BLE001 -- this recipe fails with the reason; the next one still runs
        reason = str(error) if isinstance(error, RecipeError) else f"{type(error).__name__}: {error}"
        say(f"error: {reason}")
        out.problem(f"error: {reason}")
    finally:
        stack.down()
    print(out.line(name, int(clock() - started), str(stack.logs)), flush=True)
    return not out.problems


def usage() -> str:
    return (sys.modules["__main__"].__doc__ or __doc__).strip("\n")


def main(argv: Sequence[str]) -> int:
    """scripts/faults: 0 when every recipe passed, 1 otherwise, 2 on bad usage."""
    first = argv[0] if argv else ""
    if first in ("", "-h", "--help", "help"):
        print(usage())
        return 0
    if first == "list":
        print("\n".join(RECIPES))
        return 0
    names = list(RECIPES) if first == "all" else QUICK if first == "quick" else list(argv)
    for name in names:
        if name not in RECIPES:
            print(f"faults: unknown recipe '{name}' (one of: {' '.join(RECIPES)})", file=sys.stderr)
            return 2
    for binary in (marquee_bin(), pgsim_bin()):
        if not os.access(binary, os.X_OK):
            say(f"error: {binary} is not built (cmake --build {binary.parents[2]} --target marquee pg-sim)")
            return 1
    # SIGTERM (ctest's timeout, a Ctrl-C'd parent) unwinds like Ctrl-C, so each stack is taken down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start, passed = clock(), 0
    try:
        for name in names:
            passed += run_recipe(name)
    except KeyboardInterrupt:
        return 130
    print(f"faults: {passed} of {len(names)} recipes passed in {int(clock() - start)}s", flush=True)
    return 0 if passed == len(names) else 1
