"""Linking persons on PostgreSQL, beside hand-written SQL.

Two brands of one tenant, each with ``BENCH_PERSONS_MEMBERS`` members (default
5,000) made by the batch path an import uses; every member of brand one shares
its phone with one member of brand two. Measured on one database:

- linking every member (the ``persons_link`` job over batches of 1,000
  members, as the relay runs the waiting entries of a brand), beside
  hand-written SQL for the same data: one person per distinct digest, drawn
  from the sequence, and one ``INSERT ... SELECT`` of the links (which knows
  that no shopper here has two linking identities; Tessera does not);
- ``rebuild`` of the tenant (digests recomputed from the identities, then the
  groups by label propagation), beside the same hand-written SQL.

Figures are time per member. Figures go to ``var/bench/persons.json``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime
from tortoise import connections

from tessera.members.batch import MemberDraft, create_members
from tessera.members.identities import IdentityKind
from tessera.persons import linking
from tessera.persons.models import Person, PersonMember
from tessera.scope import BrandScope
from tessera.tenancy.models import Tenant
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_PERSONS_MEMBERS", "5000"))
BATCH = 1000

BASELINE = [
    "CREATE TEMPORARY TABLE bench_group AS SELECT digest, "
    "nextval(pg_get_serial_sequence('person', 'id')) AS person_id "
    "FROM (SELECT DISTINCT digest FROM person_identity WHERE tenant_id = $1) d",
    "INSERT INTO person (id, tenant_id, created_at) SELECT person_id, $1, now() FROM bench_group",
    "INSERT INTO person_member (tenant_id, person_id, brand_id, member_id, linked_at) "
    "SELECT $1, g.person_id, i.brand_id, i.member_id, now() FROM person_identity i "
    "JOIN bench_group g USING (digest) WHERE i.tenant_id = $1",
]


async def tenant_with_members(code: str) -> tuple[Tenant, list[tuple[BrandScope, list[int]]]]:
    tenant = await create_tenant(code, code)
    made = []
    for brand_code in (f"{code}-one", f"{code}-two"):
        scope = BrandScope(await create_brand(code, brand_code, brand_code))
        ids: list[int] = []
        for start in range(0, MEMBERS, BATCH):
            drafts = []
            for i in range(start, min(start + BATCH, MEMBERS)):
                phone = f"+86139{i:08d}"
                drafts.append(
                    MemberDraft({"phone": phone, "name": f"m{i}"}, [(IdentityKind.PHONE, phone)])
                )
            ids += await create_members(scope, drafts)
        made.append((scope, ids))
    return tenant, made


async def baseline(tenant: Tenant) -> float:
    conn = connections.get("default")
    started = time.perf_counter()
    for statement in BASELINE:
        await conn.execute_query(statement, [tenant.id])
    spent = time.perf_counter() - started
    await conn.execute_script("DROP TABLE bench_group")
    return spent


async def check(tenant: Tenant) -> None:
    persons = await Person.filter(tenant_id=tenant.id, merged_into_id__isnull=True).count()
    links = await PersonMember.filter(tenant_id=tenant.id).count()
    assert (persons, links) == (MEMBERS, 2 * MEMBERS), (persons, links)


async def measure() -> int:
    tenant, brands = await tenant_with_members("link")
    started = time.perf_counter()
    for scope, ids in brands:
        for start in range(0, len(ids), BATCH):
            await linking.persons_link({}, scope.brand_id, ids[start : start + BATCH])
    link_s = time.perf_counter() - started
    await check(tenant)

    started = time.perf_counter()
    await linking.rebuild(tenant)
    rebuild_s = time.perf_counter() - started
    await check(tenant)

    other, _ = await tenant_with_members("sql")
    baseline_s = await baseline(other)
    await check(other)

    members = 2 * MEMBERS
    report = Report("persons", {"members": members})
    report.table(
        f"linking {members} members of two brands into {MEMBERS} persons (time per member)",
        [
            Figure(
                "persons_link jobs, 1,000 members a job",
                link_s / members,
                baseline_s / members,
                "hand-written SQL: a person per digest",
                "µs",
            ),
            Figure(
                "tessera persons rebuild",
                rebuild_s / members,
                baseline_s / members,
                "hand-written SQL: a person per digest",
                "µs",
            ),
        ],
    )
    report.save()
    return 0


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_database() as database_url, bench_runtime(database_url, Path(tmp)):
            return await measure()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
