"""Several API processes and job workers on one database and one queue keep every
guarantee of value, over real HTTP: double spend, one key sent concurrently,
coupon stock, concurrent refunds, and ``kill -9`` mid-batch followed by a replay.

On PostgreSQL: two ``tessera serve`` processes (requests alternate between their
ports) and two ``tessera worker`` processes on an arq queue of this module's own,
against a database migrated by ``tessera migrate``. On SQLite (one file, one
writer at a time) the same scenarios run against one server with jobs
in-process. CI runs both; neither skips there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tessera_processes import (
    Child,
    cli_env,
    fresh_database,
    spawn,
    start_server,
    tessera,
    wait_until_up,
)

BRAND = "stress"
CURRENCY = "CNY"
POSTGRES = os.environ.get("TESSERA_TEST_DATABASE_URL", "").startswith(("postgres", "asyncpg"))
API_PROCESSES = 2 if POSTGRES else 1
JOB_WORKERS = 2 if POSTGRES else 0

pytestmark = pytest.mark.redis if POSTGRES else []


@dataclass
class Cluster:
    servers: list[Child]
    workers: list[Child]
    env: dict[str, str]
    cwd: Path
    token: str
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def live_servers(self) -> list[Child]:
        return [server for server in self.servers if server.proc.poll() is None]

    async def post(self, query: str, variables: dict[str, Any], via: int = 0) -> httpx.Response:
        """One GraphQL request through server ``via`` (modulo the live ones)."""
        live = self.live_servers()
        client = self.clients[live[via % len(live)].base]
        return await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
        )

    async def gql(self, query: str, variables: dict[str, Any], via: int = 0) -> dict[str, Any]:
        response = await self.post(query, variables, via)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    async def restart(self, server: Child) -> None:
        """A server in place of ``server`` (on a port of its own), once it is ready."""
        replacement = start_server(self.env, self.cwd, name=f"{server.name}-restarted")
        self.servers[self.servers.index(server)] = replacement
        wait_until_up(replacement, "/readyz")
        self.clients[replacement.base] = http_client(replacement.base)

    def cli(self, *args: str) -> str:
        result = tessera(*args, env=self.env, cwd=self.cwd)
        assert result.returncode == 0, f"tessera {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout


def http_client(base: str) -> httpx.AsyncClient:
    # Requests past the connection limit wait for a connection within the timeout.
    # An idle connection is dropped well before uvicorn closes it (after 5 s):
    # reusing one as the server closes it would lose the request.
    return httpx.AsyncClient(
        base_url=base,
        timeout=httpx.Timeout(60),
        limits=httpx.Limits(max_connections=100, keepalive_expiry=1),
    )


@pytest.fixture(scope="module")
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """On PostgreSQL the workers need Redis: without one this fails in CI (and
    skips elsewhere), as every Redis test does."""
    if not POSTGRES:
        return None
    url: str = request.getfixturevalue("tessera_redis_url")
    return url


@pytest_asyncio.fixture(scope="module")
async def cluster(
    redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    cwd = tmp_path_factory.mktemp("cluster")
    database_url, drop = await fresh_database(cwd / "database")
    settings = {"TESSERA_SECRET_KEY": secrets.token_urlsafe(48)}
    queue_name = f"tessera-test:{secrets.token_hex(6)}"
    if redis_url:
        settings.update(TESSERA_REDIS_URL=redis_url, TESSERA_QUEUE_NAME=queue_name)
    env = cli_env(database_url, cwd / "var", **settings)
    setup = Cluster([], [], env, cwd, token="")
    try:
        setup.cli("migrate")
        # The processes boot while the brand and its key are made.
        setup.servers = [start_server(env, cwd, name=f"api-{i}") for i in range(API_PROCESSES)]
        setup.workers = [
            spawn(f"worker-{i}", "worker", env=env, cwd=cwd) for i in range(JOB_WORKERS)
        ]
        setup.cli("create-tenant", "stress-co")
        setup.cli("create-brand", "stress-co", BRAND, "--currency", CURRENCY)
        setup.token = setup.cli("create-api-key", BRAND, "-s", "admin").strip()
        for server in setup.servers:
            wait_until_up(server, "/readyz")  # database (and Redis) reachable
            setup.clients[server.base] = http_client(server.base)
        yield setup
    finally:
        for client in setup.clients.values():
            await client.aclose()
        for child in [*setup.servers, *setup.workers]:
            child.stop()
        if drop is not None:
            await drop()
        if redis_url:
            await _forget_queue(redis_url, queue_name)


async def _forget_queue(redis_url: str, queue_name: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        await client.delete(queue_name, f"{queue_name}:health-check")
    finally:
        await client.aclose()


@pytest.fixture(autouse=True)
def processes_still_running(cluster: Cluster) -> Iterator[None]:
    """Every scenario starts with every process up; a crash is a test's own doing."""
    for child in [*cluster.servers, *cluster.workers]:
        assert child.proc.poll() is None, child.log_path.read_text()
    yield


CREATE_MEMBER = """
mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } errors { code } } }
"""
POINTS = """
mutation($input: PointsInput!) {
  %s(input: $input) { balance replayed entries { id amount } errors { code field } }
}
"""
MEMBER = """
query($id: ID!) {
  member(id: $id) {
    assets { points }
    ledger(kind: POINTS) { totalCount }
    stats { ordersCount totalSpent { amount } units refundedTotal { amount } refundsCount
            firstOrderAt lastOrderAt }
  }
}
"""


async def new_member(cluster: Cluster, name: str) -> str:
    data = await cluster.gql(CREATE_MEMBER, {"input": {"name": name, "externalId": name}})
    assert data["createMember"]["errors"] == []
    member_id: str = data["createMember"]["member"]["id"]
    return member_id


async def member_state(cluster: Cluster, member_id: str) -> dict[str, Any]:
    data = await cluster.gql(MEMBER, {"id": member_id})
    member: dict[str, Any] = data["member"]
    return member


def points_call(
    cluster: Cluster, mutation: str, member_id: str, points: int, key: str, via: int = 0
) -> Awaitable[dict[str, Any]]:
    async def call() -> dict[str, Any]:
        variables = {"input": {"memberId": member_id, "points": points, "idempotencyKey": key}}
        payload: dict[str, Any] = (await cluster.gql(POINTS % mutation, variables, via))[mutation]
        return payload

    return call()


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": CURRENCY}


async def test_double_spend_across_processes_never_overdraws(cluster: Cluster) -> None:
    member = await new_member(cluster, "double-spend")
    seed = await points_call(cluster, "earnPoints", member, 1000, "seed")
    assert seed["errors"] == [] and seed["balance"] == 1000
    calls = [("redeem", i, points_call(cluster, "redeemPoints", member, 10, f"r-{i}", i))
             for i in range(200)]  # fmt: skip
    calls += [("earn", i, points_call(cluster, "earnPoints", member, 5, f"e-{i}", i))
              for i in range(40)]  # fmt: skip
    random.Random(9).shuffle(calls)

    payloads = await asyncio.gather(*(call for _, _, call in calls))

    results = [(kind, payload) for (kind, _, _), payload in zip(calls, payloads, strict=True)]
    redeemed = [p for kind, p in results if kind == "redeem" and not p["errors"]]
    refused = [p for kind, p in results if kind == "redeem" and p["errors"]]
    assert all(not p["errors"] for kind, p in results if kind == "earn")
    assert {e["code"] for p in refused for e in p["errors"]} == {"INSUFFICIENT_POINTS"}
    # 1,000 points cover 100 redeems whatever the order; the earns, at most 20 more.
    assert 100 <= len(redeemed) <= 120 and len(refused) == 200 - len(redeemed)
    state = await member_state(cluster, member)
    assert state["assets"]["points"] == 1000 + 40 * 5 - 10 * len(redeemed) >= 0
    assert all(p["balance"] >= 0 for p in redeemed)
    assert state["ledger"]["totalCount"] == 1 + 40 + len(redeemed)
    cluster.cli("ledger", "verify", "--brand", BRAND)  # balance == sum of entries


async def test_one_key_sent_concurrently_to_every_process_earns_once(cluster: Cluster) -> None:
    member = await new_member(cluster, "same-key-earn")

    payloads = await asyncio.gather(
        *(points_call(cluster, "earnPoints", member, 25, "once", via=i) for i in range(50))
    )

    assert all(p["errors"] == [] for p in payloads)
    assert Counter(p["replayed"] for p in payloads) == {False: 1, True: 49}
    answers = {(p["balance"], tuple(e["id"] for e in p["entries"])) for p in payloads}
    assert len(answers) == 1, "every retry answers what the first call did"
    state = await member_state(cluster, member)
    assert (state["assets"]["points"], state["ledger"]["totalCount"]) == (25, 1)


CREATE_TEMPLATE = """
mutation($input: CreateCouponTemplateInput!) {
  createCouponTemplate(input: $input) { template { id } errors { field code } }
}
"""
TEMPLATE = "query($id: ID!) { couponTemplate(id: $id) { issuedCount remainingStock } }"
ISSUE = """
mutation($input: IssueCouponInput!) {
  issueCoupon(input: $input) { coupon { code } errors { code } }
}
"""
REDEEM_COUPON = """
mutation($input: RedeemCouponInput!) {
  redeemCoupon(input: $input) {
    coupon { code status redeemedAt }
    redemption { externalOrderId discount { amount } }
    discount { amount currency }
    replayed
    errors { field code }
  }
}
"""


async def coupon_template(cluster: Cluster, title: str, **extra: Any) -> str:
    values = {"kind": "AMOUNT_OFF", "title": title, "amountOff": money("20.00"), "validDays": 30}
    data = await cluster.gql(CREATE_TEMPLATE, {"input": {**values, **extra}})
    assert data["createCouponTemplate"]["errors"] == []
    template_id: str = data["createCouponTemplate"]["template"]["id"]
    return template_id


async def test_one_redeem_coupon_key_sent_concurrently_gets_the_first_result_everywhere(
    cluster: Cluster,
) -> None:
    member = await new_member(cluster, "same-key-coupon")
    template = await coupon_template(cluster, "Twenty off")
    issued = await cluster.gql(
        ISSUE, {"input": {"templateId": template, "memberId": member, "idempotencyKey": "c"}}
    )
    code = issued["issueCoupon"]["coupon"]["code"]
    redeem = {
        "code": code,
        "memberId": member,
        "orderAmount": money("88.00"),
        "externalOrderId": "till-1",
        "idempotencyKey": "till-1-coupon",
    }

    answers = await asyncio.gather(
        *(cluster.gql(REDEEM_COUPON, {"input": redeem}, via=i) for i in range(20))
    )

    payloads = [answer["redeemCoupon"] for answer in answers]
    assert [p["errors"] for p in payloads] == [[]] * 20, "a retry is never told it failed"
    assert Counter(p["replayed"] for p in payloads) == {False: 1, True: 19}
    first = next(p for p in payloads if not p["replayed"])
    for payload in payloads:
        assert {**payload, "replayed": False} == first
    assert first["coupon"]["status"] == "REDEEMED"
    assert first["discount"] == money("20.00")


async def test_coupon_stock_holds_when_every_process_issues_at_once(cluster: Cluster) -> None:
    stock = 15
    template = await coupon_template(cluster, "Limited", totalStock=stock)
    members = [await new_member(cluster, f"stock-{i}") for i in range(3)]

    answers = await asyncio.gather(
        *(
            cluster.gql(
                ISSUE,
                {
                    "input": {
                        "templateId": template,
                        "memberId": members[i % 3],
                        "idempotencyKey": f"stock-{i}",
                    }
                },  # fmt: skip
                via=i,
            )
            for i in range(3 * stock)
        )
    )

    payloads = [answer["issueCoupon"] for answer in answers]
    issued = [p["coupon"]["code"] for p in payloads if not p["errors"]]
    assert len(issued) == len(set(issued)) == stock
    assert {e["code"] for p in payloads for e in p["errors"]} == {"OUT_OF_STOCK"}
    counts = (await cluster.gql(TEMPLATE, {"id": template}))["couponTemplate"]
    assert counts == {"issuedCount": stock, "remainingStock": 0}


RECORD_ORDERS = """
mutation($input: RecordOrdersInput!) {
  recordOrders(input: $input) {
    results { index replayed order { id externalId } errors { code field } }
    errors { code field }
  }
}
"""
REFUND = """
mutation($input: RecordRefundInput!) {
  recordRefund(input: $input) {
    refund { externalId amount { amount } } replayed errors { code field }
  }
}
"""
ORDER = "query($id: ID!) { order(id: $id) { amountPaid { amount } refundedAmount { amount } } }"


def order_input(external_id: str, member_id: str, paid: str = "10.00") -> dict[str, Any]:
    return {
        "externalId": external_id,
        "memberId": member_id,
        "occurredAt": "2026-11-01T10:00:00+00:00",
        "amountPaid": money(paid),
        "lines": [{"sku": "TEA", "quantity": 1, "unitPrice": money(paid)}],
    }


async def record_orders(cluster: Cluster, orders: list[dict[str, Any]], via: int = 0) -> list[Any]:
    data = await cluster.gql(RECORD_ORDERS, {"input": {"orders": orders}}, via)
    assert data["recordOrders"]["errors"] == []
    results: list[Any] = data["recordOrders"]["results"]
    return results


async def test_concurrent_refunds_of_one_order_never_refund_more_than_was_paid(
    cluster: Cluster,
) -> None:
    member = await new_member(cluster, "refunds")
    [recorded] = await record_orders(cluster, [order_input("refund-me", member, "100.00")])
    order_id = recorded["order"]["id"]

    def refund(i: int) -> dict[str, Any]:
        values = {"externalId": f"refund-{i}", "orderId": order_id,
                  "occurredAt": "2026-11-02T10:00:00+00:00"}  # fmt: skip
        if i % 7 != 6:  # six in seven by amount, then one "refund what is left"
            values["amount"] = money("2.00")
        return {"input": values}

    answers = await asyncio.gather(*(cluster.gql(REFUND, refund(i), via=i) for i in range(70)))

    payloads = [answer["recordRefund"] for answer in answers]
    refunded = [Decimal(p["refund"]["amount"]["amount"]) for p in payloads if not p["errors"]]
    assert all(amount > 0 for amount in refunded), "a refund of nothing is refused"
    assert sum(refunded) == Decimal("100.00")
    codes = {e["code"] for p in payloads for e in p["errors"]}
    assert codes <= {"REFUND_EXCEEDS_PAID", "NOTHING_TO_REFUND"} and codes
    order = (await cluster.gql(ORDER, {"id": order_id}))["order"]
    assert order["refundedAmount"] == order["amountPaid"] == {"amount": "100.00"}
    stats = (await member_state(cluster, member))["stats"]
    assert (stats["refundsCount"], stats["refundedTotal"]) == (len(refunded), {"amount": "100.00"})


async def first_done(tasks: list[asyncio.Task[Any]], count: int) -> None:
    """Returns once ``count`` of ``tasks`` have finished, however they ended."""
    for finished, next_done in enumerate(asyncio.as_completed(tasks), start=1):
        with contextlib.suppress(Exception):
            await next_done
        if finished == count:
            return


SET_FEATURE = """
mutation($input: SetFeatureInput!) { setFeature(input: $input) { errors { code field } } }
"""


SET_SLOT = """
mutation($i: SetFeatureInput!) { setFeature(input: $i) { errors { code message } } }
"""
CREATE_CREATIVE = """
mutation($i: CreateSlotCreativeInput!) {
  createSlotCreative(input: $i) { creative { id } errors { code message } }
}
"""
UPDATE_CREATIVE = """
mutation($i: UpdateSlotCreativeInput!) { updateSlotCreative(input: $i) { errors { code } } }
"""
BANNERS = 'query($m: ID) { slot(key: "spread", memberId: $m) { entries { banner { title } } } }'


async def test_a_slot_changed_through_one_process_shows_through_every_process(
    cluster: Cluster,
) -> None:
    """Each API process keeps a slot's validated config; a change made
    through another process shows on the very next view (docs/slots.md)."""
    member = await new_member(cluster, "slot-viewer")

    async def set_count(count: int) -> None:
        slot = {"component": "slots.banner", "slot": "spread", "config": {"count": count}}
        assert (await cluster.gql(SET_SLOT, {"i": slot}))["setFeature"]["errors"] == []

    async def shown() -> list[list[str]]:
        """The titles each process shows."""
        views = [await cluster.gql(BANNERS, {"m": member}, via) for via in range(API_PROCESSES)]
        return [[e["banner"]["title"] for e in v["slot"]["entries"]] for v in views]

    await set_count(1)
    ids = []
    for title, priority in (("first", 2), ("second", 1)):
        created = {"slot": "spread", "title": title, "imageUrl": "https://img.example/a.png",
                   "link": "/a", "altText": title, "priority": priority}  # fmt: skip
        payload = (await cluster.gql(CREATE_CREATIVE, {"i": created}))["createSlotCreative"]
        assert payload["errors"] == [], payload
        ids.append(payload["creative"]["id"])
    assert await shown() == [["first"]] * API_PROCESSES  # every process has read the slot

    changed = {"i": {"id": ids[0], "title": "changed"}}
    assert (await cluster.gql(UPDATE_CREATIVE, changed, via=0))["updateSlotCreative"][
        "errors"
    ] == []
    assert await shown() == [["changed"]] * API_PROCESSES
    await set_count(2)
    assert await shown() == [["changed", "second"]] * API_PROCESSES


async def test_a_batch_replayed_after_kill_9_of_a_server_and_a_worker_counts_once(
    cluster: Cluster,
) -> None:
    # Last in the file: it leaves a server and a worker dead, and the
    # scenarios start with every process up (processes_still_running).
    feature = {"component": "points.purchase", "config": {"points_per_unit": 1}}
    assert (await cluster.gql(SET_FEATURE, {"input": feature}))["setFeature"]["errors"] == []
    members = [await new_member(cluster, f"crash-{i}") for i in range(8)]
    orders = [order_input(f"crash-{i}", members[i % 8]) for i in range(240)]
    batches = [orders[i : i + 6] for i in range(0, len(orders), 6)]
    tasks = [
        asyncio.ensure_future(cluster.post(RECORD_ORDERS, {"input": {"orders": batch}}, via=i))
        for i, batch in enumerate(batches)
    ]

    # Mid-batch: a quarter of the requests answered, the rest in flight or queued.
    await first_done(tasks, len(tasks) // 4)
    server = cluster.live_servers()[-1]
    for victim in [server, *cluster.workers[-1:]]:
        victim.kill()
    await asyncio.gather(*tasks, return_exceptions=True)  # answers, or the connection's end
    if not cluster.live_servers():  # one server (SQLite): it comes back, as a supervisor would
        await cluster.restart(server)

    # The client replays the whole batch, same external ids, through what is left.
    replayed = await asyncio.gather(
        *(record_orders(cluster, batch, via=i) for i, batch in enumerate(batches))
    )

    results = [result for batch in replayed for result in batch]
    assert all(result["errors"] == [] for result in results)
    assert {r["order"]["externalId"] for r in results} == {o["externalId"] for o in orders}
    assert len({r["order"]["id"] for r in results}) == len(orders), "no order twice"
    assert any(r["replayed"] for r in results), "some had committed before the kill"
    before = [await member_state(cluster, member) for member in members]
    for state in before:
        # 30 orders of 10.00 each, at one point per unit: 300 points in 30 awards.
        assert state["stats"]["ordersCount"] == 30
        assert state["stats"]["totalSpent"] == {"amount": "300.00"}
        assert (state["assets"]["points"], state["ledger"]["totalCount"]) == (300, 30)
    cluster.cli("ledger", "verify", "--brand", BRAND)
    cluster.cli("stats", "rebuild", "--brand", BRAND)
    after = [await member_state(cluster, member) for member in members]
    assert after == before, "the statistics kept while recording equal a rebuild"
    for worker in cluster.workers:
        # Each worker wrote its own structured lines.
        assert {line["pid"] for line in worker.log_lines()} == {worker.proc.pid}
