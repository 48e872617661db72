"""What every command shares: settings, a started runtime, and exit codes.

Exit codes: 0 done, 1 failed (unreachable database, a bug), 2 bad input
(a ``DomainError``, invalid configuration or usage).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tessera import bootstrap
from tessera.config import Settings
from tessera.errors import DomainError, DomainErrors
from tessera.scope import Actor, BrandScope
from tessera.tenancy.models import Brand

T = TypeVar("T")

BAD_INPUT = 2
FAILURE = 1

# Results go to stdout (so `KEY=$(tessera create-api-key ...)` works); what a
# person reads goes to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CLI_ACTOR = Actor("cli", label="tessera command line")


def progress_bar() -> Progress:
    """The progress display of long work, drawn on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def fail(message: str, code: int = FAILURE) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TESSERA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else e["msg"]
            for e in exc.errors()
        )
        fail(f"invalid configuration: {problems}", BAD_INPUT)


def domain_message(exc: DomainError) -> str:
    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return "; ".join(f"{'.'.join(e.field)}: {e.message}" if e.field else e.message for e in errors)


def run(
    work: Callable[[Settings], Awaitable[T]],
    cfg: Settings | None = None,
    *,
    follow_up: bool = True,
) -> T:
    """Run ``work`` with the database connected and the runtime installed.
    Without Redis the follow-up work that is due is done before the command
    ends (an API process would otherwise find it later); ``follow_up=False``
    leaves the outbox alone (a command that only looks)."""
    cfg = cfg or settings()

    async def with_runtime() -> T:
        rt = await bootstrap.start(cfg)
        try:
            return await work(cfg)
        finally:
            await bootstrap.stop(rt, drain_outbox=follow_up)

    try:
        return asyncio.run(with_runtime())
    except DomainError as exc:
        fail(domain_message(exc), BAD_INPUT)
    except OSError as exc:
        fail(f"cannot reach the database or Redis: {exc}")


async def brand_scope(code: str) -> BrandScope:
    brand = await Brand.get_or_none(code=code)
    if brand is None:
        raise DomainError("NOT_FOUND", f"no brand {code!r}", field=["brand"])
    return BrandScope(brand, CLI_ACTOR)
