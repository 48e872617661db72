"""Brands of one tenant (and one of another tenant) for the person tests."""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from tessera.members import service
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.tenancy.service import create_brand, create_tenant


@pytest_asyncio.fixture
async def group(tessera_db) -> tuple[Brand, Brand, Brand]:
    """Two brands of tenant ``group`` (CNY and USD) and one of ``rival``."""
    await create_tenant("group", "Group")
    await create_tenant("rival", "Rival")
    tea = await create_brand("group", "tea", "Tea", currency="CNY", timezone="Asia/Shanghai")
    shoes = await create_brand("group", "shoes", "Shoes", currency="USD", timezone="Asia/Shanghai")
    other = await create_brand("rival", "other", "Other", currency="CNY", timezone="Asia/Shanghai")
    return tea, shoes, other


@pytest.fixture
def join() -> Callable[..., Awaitable[Member]]:
    async def make(brand: Brand, **profile) -> Member:
        identities = profile.pop("identities", [])
        return await service.create_member(BrandScope(brand), profile, identities=identities)

    return make


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, list[str], list[list[str]]], Path]:
    def write(name: str, header: list[str], rows: list[list[str]]) -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write
