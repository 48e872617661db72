"""Preparing a campaign on PostgreSQL beside hand-written SQL doing the same
inserts, and sending through an SMTP sink.

Preparing: a segment of ``BENCH_CAMPAIGN_MEMBERS`` members (default
100,000, large run 1,000,000; 90 % consented, 2 % do-not-contact, 1 % without an address, a
frequency cap in force), seeded with generate_series, not timed. Tessera's
figure is the start job (the audience snapshot with its holdout and batch
numbers) and every batch job (the gate's set-based decisions, the message
rows, the links from recipient to message, the delivery outbox rows), run one
after the other in this process as a worker would. The baseline is the same
rows written by four hand-written statements over the whole audience at once
(recipients, messages with the same decision, outbox rows, links).

Sending: ``BENCH_CAMPAIGN_SENDS`` messages (default 500) through
``channels_send`` into a local aiosmtpd sink, ten at a time (arq's jobs per
worker), beside aiosmtplib alone sending the same number of mails to the same
sink ten at a time: messages per second of one worker.

Run by ``make bench`` (not in CI); ``make bench BENCHES=campaigns`` alone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime

from tessera import pg_client
from tessera.campaigns import sending, service
from tessera.campaigns.models import CampaignRecipient
from tessera.channels import delivery
from tessera.channels import service as channels
from tessera.channels.models import Channel, Message, MessageStatus, Purpose
from tessera.features.service import set_feature
from tessera.members import pii
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_CAMPAIGN_MEMBERS", "100000"))
SENDS = int(os.environ.get("BENCH_CAMPAIGN_SENDS", "500"))
CONCURRENCY = 10

# $1 brand, $2 first member id of this side, $3 count, $4 segment.
SEED = """
INSERT INTO member (brand_id, id, external_id, status, name, gender, email_sealed, province,
  city, education, occupation, income_range, interests, join_channel, join_source, attributes,
  joined_at, created_at, updated_at)
SELECT $1, $2 + g, 'e' || ($2 + g), 'active', 'm', 'unknown',
  CASE WHEN g % 100 = 0 THEN NULL ELSE 'sealed-' || g END, '', '', '', '', '', '[]', '', '',
  '{}', now(), now(), now()
FROM generate_series(1, $3) g;
"""
SEED_REST = [
    "INSERT INTO channel_consent (brand_id, member_id, channel, purpose, granted, source,"
    " updated_at) SELECT $1, $2 + g, 'email', 'marketing', TRUE, 'seed', now()"
    " FROM generate_series(1, $3) g WHERE g % 10 <> 0",
    "INSERT INTO do_not_contact (brand_id, member_id, channel, reason, detail, created_at)"
    " SELECT $1, $2 + g, 'email', 'unsubscribed', '', now()"
    " FROM generate_series(1, $3) g WHERE g % 50 = 7",
    "INSERT INTO segment_membership (brand_id, segment_id, member_id, entered_at)"
    " SELECT $1, $4, $2 + g, now() FROM generate_series(1, $3) g",
]

BASELINE = [
    # The audience with its holdout and batches.
    """INSERT INTO campaign_recipient (brand_id, campaign_id, member_id, holdout, batch, created_at)
    SELECT $1, $2, s.member_id, s.h,
      CASE WHEN s.h THEN -1 ELSE (ROW_NUMBER() OVER (PARTITION BY s.h ORDER BY s.member_id) - 1)
      / 1000 END, now()
    FROM (SELECT member_id, ((x * x) % 2147483647 * 48271 + 12345) % 2147483647 < 0 AS h
      FROM (SELECT member_id, (member_id + $2 * 7919) % 2147483647 AS x
        FROM segment_membership WHERE brand_id = $1 AND segment_id = $3) t) s""",
    # The messages with the gate's decision.
    """INSERT INTO message (brand_id, member_id, channel, purpose, template_id, source, variables,
      idempotency_key, status, reason, provider, attempts, send_after, created_at, updated_at)
    SELECT $1, d.member_id, 'email', 'marketing', $3, 'base:' || $2::bigint, '{}',
      'base:' || $2::bigint,
      CASE WHEN d.held IS NULL THEN 'queued' ELSE 'held' END, COALESCE(d.held, ''), '', 0,
      now(), now(), now()
    FROM (SELECT m.id AS member_id, CASE
        WHEN COALESCE(m.email_sealed, '') = '' THEN 'no_address'
        WHEN d.reason IS NOT NULL THEN 'do_not_contact:' || d.reason
        WHEN NOT COALESCE(cc.granted, FALSE) THEN 'no_consent'
        WHEN (SELECT COUNT(*) FROM message x WHERE x.brand_id = m.brand_id
          AND x.member_id = m.id AND x.purpose = 'marketing'
          AND x.status IN ('queued', 'deferred', 'sent', 'delivered')
          AND x.send_after > now() - interval '24 hours') >= 3 THEN 'frequency_cap:*:3/24h'
        ELSE NULL END AS held
      FROM member m
      LEFT JOIN do_not_contact d ON d.brand_id = m.brand_id AND d.member_id = m.id
        AND d.channel = 'email'
      LEFT JOIN channel_consent cc ON cc.brand_id = m.brand_id AND cc.member_id = m.id
        AND cc.channel = 'email' AND cc.purpose = 'marketing'
      WHERE m.brand_id = $1 AND m.id IN (SELECT member_id FROM campaign_recipient
        WHERE campaign_id = $2::bigint AND NOT holdout)) d
    ON CONFLICT DO NOTHING""",
    # Delivery on the bulk lane.
    """INSERT INTO outbox (brand_id, kind, payload, created_at, available_at, attempts)
    SELECT brand_id, 'channels_send', ('{"args": [' || brand_id || ', ' || id
      || '], "kwargs": {}}')::jsonb, now(), send_after, 0
    FROM message WHERE brand_id = $1 AND idempotency_key = 'base:' || $2::bigint
      AND status = 'queued'""",
    # Each recipient's message.
    """UPDATE campaign_recipient r SET message_id = x.id FROM message x
    WHERE r.campaign_id = $2 AND x.brand_id = $1 AND x.member_id = r.member_id
      AND x.idempotency_key = 'base:' || $2::bigint""",
]


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _seed(pool: asyncpg.Pool, brand: int, first: int, segment: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(SEED, brand, first, MEMBERS)
        for sql in SEED_REST:
            if "$4" in sql:
                await conn.execute(sql, brand, first, MEMBERS, segment)
            else:
                await conn.execute(sql, brand, first, MEMBERS)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('member', 'id'), (SELECT max(id) FROM member))"
        )
        await conn.execute("ANALYZE")


async def _prepare(scope: BrandScope, campaign_id: int) -> None:
    await service.launch_campaign(scope, campaign_id)
    await sending.campaigns_start({}, scope.brand_id, campaign_id)
    batch = 0
    while await sending.campaigns_batch({}, scope.brand_id, campaign_id, batch):
        batch += 1


async def _baseline(pool: asyncpg.Pool, brand: int, campaign: int, segment: int, tpl: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(BASELINE[0], brand, campaign, segment)
        await conn.execute(BASELINE[1], brand, campaign, tpl)
        await conn.execute(BASELINE[2], brand, campaign)
        await conn.execute(BASELINE[3], brand, campaign)


async def _send_figure(scope: BrandScope, template_id: int) -> tuple[float, float]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await set_feature(
            scope,
            "email_smtp",
            enabled=True,
            config={
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "care@bench.example",
            },
        )
        now = datetime.now(UTC)
        brand = scope.brand
        rows = [
            scope.build(
                Member,
                external_id=f"send-{i}",
                name=f"s{i}",
                joined_at=now,
                **pii.seal_profile(
                    brand.id, brand.identity_key_version, {"email": f"s{i}@bench.example"}
                ),
            )
            for i in range(SENDS)
        ]
        await scope.insert_many(Member, rows)
        members = await scope.query(Member).filter(external_id__startswith="send-")
        await scope.insert_many(
            Message,
            [
                scope.build(
                    Message,
                    member_id=m.id,
                    channel=Channel.EMAIL,
                    purpose=Purpose.MARKETING,
                    template_id=template_id,
                    source="bench",
                    idempotency_key="send",
                    status=MessageStatus.QUEUED,
                    send_after=now,
                )
                for m in members
            ],
        )
        ids = await scope.query(Message).filter(idempotency_key="send").values_list("id", flat=True)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(message_id: int) -> None:
            async with limit:
                await delivery.channels_send({}, scope.brand_id, message_id)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in ids))
        ours = time.perf_counter() - started
        sent = await scope.query(Message).filter(idempotency_key="send", status="sent").count()
        assert sent == SENDS == sink.count, (sent, sink.count)

        async def raw(i: int) -> None:
            async with limit:
                mail = EmailMessage()
                mail["From"], mail["To"], mail["Subject"] = "a@b.c", f"r{i}@bench.example", "s"
                mail.set_content("Hi")
                await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)

        started = time.perf_counter()
        await asyncio.gather(*(raw(i) for i in range(SENDS)))
        theirs = time.perf_counter() - started
        return ours, theirs
    finally:
        controller.stop()


async def main() -> int:
    async with bench_database() as url:
        var_dir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
        async with bench_runtime(url, var_dir):
            tenant = await create_tenant("bench", "Bench")
            brand = await create_brand(
                tenant.code, "bench", "Bench", currency="CNY", timezone="UTC"
            )
            scope = BrandScope(brand)
            await channels.set_contact_rules(
                scope, quiet_start=None, quiet_end=None, caps=[channels.Cap("*", 3, 24)]
            )
            template = await channels.create_template(
                scope, name="t", channel=Channel.EMAIL, subject="s", body="Hi {{ member.name }}"
            )
            pool = await pg_client.create_pool(url, min_size=1, max_size=2)
            segments = []
            for side, first in (("tessera", 0), ("baseline", 10 * MEMBERS)):
                segment = await scope.create(Segment, name=side, kind="static", size=MEMBERS)
                await _seed(pool, brand.id, first, segment.id)
                segments.append(segment)
            campaign = await service.create_campaign(
                scope,
                service.CampaignInput(
                    name="bench", segment_id=segments[0].id, template_id=template.id
                ),
            )
            started = time.perf_counter()
            await _prepare(scope, campaign.id)
            ours = time.perf_counter() - started
            other = await service.create_campaign(
                scope,
                service.CampaignInput(
                    name="baseline", segment_id=segments[1].id, template_id=template.id
                ),
            )
            started = time.perf_counter()
            await _baseline(pool, brand.id, other.id, segments[1].id, template.id)
            theirs = time.perf_counter() - started
            ours_rows = (
                await scope.query(CampaignRecipient)
                .filter(campaign_id=campaign.id, message_id__isnull=False)
                .count()
            )
            async with pool.acquire() as conn:
                theirs_rows = await conn.fetchval(
                    "SELECT count(*) FROM campaign_recipient WHERE campaign_id = $1"
                    " AND message_id IS NOT NULL",
                    other.id,
                )
            await pool.close()
            if ours_rows != theirs_rows:
                print(f"the two sides decided {ours_rows} and {theirs_rows} recipients")
                return 1
            send_ours, send_theirs = await _send_figure(scope, template.id)
            print(
                f"campaigns on PostgreSQL: {MEMBERS} members in the segment; "
                f"{SENDS} sends, {CONCURRENCY} at a time"
            )
            print(
                f"send throughput per worker: {SENDS / send_ours:.0f} messages/s "
                f"(aiosmtplib alone: {SENDS / send_theirs:.0f}/s)"
            )
            report = Report("campaigns", {"members": MEMBERS, "sends": SENDS})
            report.table(
                "campaign preparing and sending",
                [
                    Figure(
                        f"prepare and enqueue {MEMBERS} members",
                        ours,
                        theirs,
                        "hand-written SQL, same inserts, one statement each",
                        "s",
                    ),
                    Figure(
                        f"send {SENDS} through channels_send",
                        send_ours,
                        send_theirs,
                        "aiosmtplib alone, same sink, 10 at a time",
                        "s",
                    ),
                ],
            )
            report.save()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
