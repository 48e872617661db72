"""The reason a co-purchase recommendation gives does not depend on the
order the neighbour rows came from the database in."""

from __future__ import annotations

from itertools import permutations

from tessera import ItemScore
from tessera.plugins.slots.recommend import co_purchase_ranking


def test_of_equal_contributions_the_reason_is_the_first_item_by_sku() -> None:
    rows = [
        ItemScore(sku="shoe", score=0.5, of="sock"),
        ItemScore(sku="shoe", score=0.5, of="lace"),
        ItemScore(sku="shoe", score=0.2, of="belt"),
        ItemScore(sku="hat", score=0.4, of="scarf"),
    ]
    answers = {tuple(co_purchase_ranking(order)) for order in permutations(rows)}
    assert answers == {(("shoe", 1.2, "lace"), ("hat", 0.4, "scarf"))}


def test_the_item_that_contributed_most_is_the_reason() -> None:
    rows = [
        ItemScore(sku="shoe", score=0.2, of="belt"),
        ItemScore(sku="shoe", score=0.5, of="sock"),
    ]
    assert co_purchase_ranking(rows) == [("shoe", 0.7, "sock")]
    assert co_purchase_ranking(reversed(rows)) == [("shoe", 0.7, "sock")]
