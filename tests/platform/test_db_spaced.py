"""``spaced``: words sent to PostgreSQL as one text for ``string_to_array``
(the owners' and erased look-ups of an import); a value with a space would
split into two, so it is refused."""

import pytest

from tessera.db import spaced


def test_words_are_joined_by_one_space() -> None:
    assert spaced(["phone", "email", ""]) == "phone email "
    assert spaced(["a1b2"]) == "a1b2"
    assert spaced([]) == ""


@pytest.mark.parametrize("values", [["a b"], ["a", "b "], [" ", "c"]])
def test_a_value_with_a_space_is_refused(values: list[str]) -> None:
    with pytest.raises(ValueError, match="contains a space"):
        spaced(values)
