"""A brand's enabled features as one text, read in a statement a request
runs anyway (the API key's revocation check): plugin delivery after the
request's commit reuses the configs this process built for the same text
instead of reading the features again. The text is the rows themselves
(config and encrypted secrets included), not a version or a time, so any
change, made by any process and by any means, changes it at once."""

from __future__ import annotations

from tessera.request_context import features_var

_ROW = (
    "\"id\" || '|' || \"component_key\" || '|' || \"instance\" || '|' "
    '|| CAST("config" AS TEXT) || \'|\' || "secrets"'
)


def stamp_sql(dialect: str, brand_param: str) -> str:
    """A scalar subquery: the enabled features of the brand ``brand_param``
    binds, in id order, as one text ('' when none)."""
    rows = f'FROM "brand_feature" WHERE "brand_id" = {brand_param} AND "enabled"'
    if dialect == "postgres":
        return f"(SELECT coalesce(string_agg({_ROW}, chr(30) ORDER BY \"id\"), '') {rows})"
    return (
        f"(SELECT coalesce(group_concat(r, char(30)), '') "
        f'FROM (SELECT {_ROW} AS r {rows} ORDER BY "id"))'
    )


def seen(brand_id: int, stamp: str) -> None:
    """This request read ``stamp`` for ``brand_id``'s enabled features."""
    features_var.set((brand_id, stamp))


def current(brand_id: int) -> str | None:
    """What this request read of ``brand_id``'s enabled features, if it did."""
    read = features_var.get()
    return read[1] if read is not None and read[0] == brand_id else None


def changed() -> None:
    """This request changed its brand's features: what it read is stale."""
    features_var.set(None)
