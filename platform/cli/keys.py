"""``tessera keys``: rotate a brand's identity key and re-encrypt what it
sealed (see :mod:`tessera.members.keys` and docs/privacy.md)."""

from __future__ import annotations

import typer

from tessera.cli.runner import brand_scope, out, progress_bar, run
from tessera.config import Settings
from tessera.members import keys as identity_keys

app = typer.Typer()
keys = typer.Typer(
    name="keys", help="Encryption keys of members' identities.", no_args_is_help=True
)
app.add_typer(keys, rich_help_panel="Data")


async def _reseal(brand: str, batch_size: int) -> None:
    scope = await brand_scope(brand)
    total = await identity_keys.pending(scope)
    with progress_bar() as progress:
        task = progress.add_task(f"re-encrypting {brand}", total=total)
        done = await identity_keys.reseal(
            scope, batch_size=batch_size, progress=lambda n: progress.advance(task, n)
        )
    out.print(
        f"brand {brand}: key version {done.version}; re-encrypted {done.identities} "
        f"identity row(s) and {done.members} member row(s)"
    )


@keys.command()
def rotate(
    brand: str = typer.Option(..., help="Code of the brand."),
    batch_size: int = typer.Option(identity_keys.BATCH_SIZE, min=1, max=10_000),
) -> None:
    """Seal new values under the brand's next key version, then re-encrypt
    every stored one. Lookups keep working throughout; if interrupted, run
    `tessera keys reseal` to finish."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        version = await identity_keys.rotate_identity_key(scope)
        out.print(f"brand {brand}: new values are sealed under key version {version}")
        await _reseal(brand, batch_size)

    run(work)


@keys.command()
def reseal(
    brand: str = typer.Option(..., help="Code of the brand."),
    batch_size: int = typer.Option(identity_keys.BATCH_SIZE, min=1, max=10_000),
) -> None:
    """Re-encrypt what is not yet under the brand's current key version
    (finishes an interrupted rotation; safe to repeat)."""
    run(lambda _: _reseal(brand, batch_size))
