"""set_at_once: a frozen dataclass built by one step is the dataclass as
``dataclass`` builds it: same parameters, defaults, factories, still frozen."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from tessera.frozen import set_at_once


@dataclasses.dataclass(frozen=True)
class Plain:
    sku: str
    quantity: int = 1
    tags: list[str] = dataclasses.field(default_factory=list)


@set_at_once
@dataclasses.dataclass(frozen=True)
class AtOnce:
    sku: str
    quantity: int = 1
    tags: list[str] = dataclasses.field(default_factory=list)


def as_tuple(value: object) -> tuple[object, ...]:
    return tuple(getattr(value, f.name) for f in dataclasses.fields(value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a",), {}), (("a", 3), {}), (("a",), {"tags": ["x"]}), ((), {"sku": "b", "quantity": 0})],
)
def test_the_same_arguments_give_the_same_values(args, kwargs):
    assert as_tuple(AtOnce(*args, **kwargs)) == as_tuple(Plain(*args, **kwargs))


def test_the_signature_is_the_dataclass_one():
    ours = inspect.signature(AtOnce.__init__).parameters
    theirs = inspect.signature(Plain.__init__).parameters
    assert list(ours) == list(theirs)
    assert ours["quantity"].default == 1


def test_each_instance_gets_its_own_factory_value():
    first, second = AtOnce("a"), AtOnce("b")
    first.tags.append("x")
    assert second.tags == [] and first.tags == ["x"]


def test_the_instance_stays_frozen_and_compares_as_a_dataclass():
    value = AtOnce("a", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.quantity = 3  # type: ignore[misc]
    assert value == AtOnce("a", 2) and value != AtOnce("a", 3)
    assert repr(value) == "AtOnce(sku='a', quantity=2, tags=[])"


def test_a_missing_argument_is_refused_as_dataclass_refuses_it():
    with pytest.raises(TypeError, match="sku"):
        AtOnce()  # type: ignore[call-arg]


@set_at_once
@dataclasses.dataclass(frozen=True)
class NamedLikeItsParts:
    # Names an __init__ might use for its own locals.
    values: dict[str, str]
    self_: int = 0
    held: str = ""


def test_a_field_may_have_any_name():
    value = NamedLikeItsParts({"a": "b"}, 1, "h")
    assert (value.values, value.self_, value.held) == ({"a": "b"}, 1, "h")
