"""``tessera slots``: build the recommendation data and the member clusters
now (what the nightly job does), for one brand."""

from __future__ import annotations

import typer

from tessera.cli.runner import brand_scope, out, run
from tessera.config import Settings
from tessera.slots import clusters, model

app = typer.Typer()
slots = typer.Typer(
    name="slots",
    help="Personalisation slots: recommendation models, clusters.",
    no_args_is_help=True,
)
app.add_typer(slots, rich_help_panel="Data")


@slots.command()
def build(
    brand: str = typer.Option(..., help="Code of the brand."),
    neighbours: int = typer.Option(model.NEIGHBOURS, min=1, max=100, help="Top-N per item."),
) -> None:
    """Rebuild co-purchase neighbours and popular lists from the brand's orders."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        report = await model.build(scope, top=neighbours)
        out.print(
            f"{report.purchases} purchase line(s) of {report.items} item(s): "
            f"{report.neighbours} neighbour(s), {report.popular} popular entr(ies), "
            f"{report.catalogue_added} item(s) added to the catalogue"
        )

    run(work)


@slots.command("clusters")
def clusters_(
    brand: str = typer.Option(..., help="Code of the brand."),
    k: int = typer.Option(clusters.CLUSTERS, min=1, max=50, help="Number of clusters."),
) -> None:
    """Cluster the brand's buying members now (k-means over RFM and categories)."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        for info in await clusters.run_clustering(scope, k=k):
            out.print(f"cluster {info.cluster}: {info.size} member(s), {info.description}")

    run(work)
