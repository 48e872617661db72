"""The benefits a tier carries, as a list of typed items.

Each item is ``{"kind": ..., ...}`` with the fields of its kind; the list is
validated here (by pydantic, a discriminated union) so that what is stored is
always one of these shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tessera.errors import DomainError, DomainErrors


class _Benefit(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberPrice(_Benefit):
    kind: Literal["member_price"] = "member_price"
    percent_off: int = Field(ge=1, le=99, description="discount on the retail price, percent")


class FreeShipping(_Benefit):
    kind: Literal["free_shipping"] = "free_shipping"
    per_month: int | None = Field(None, ge=1, le=1000, description="null: unlimited")


class FreeReturns(_Benefit):
    kind: Literal["free_returns"] = "free_returns"
    within_days: int = Field(30, ge=1, le=365)


class EarlyAccess(_Benefit):
    kind: Literal["early_access"] = "early_access"
    hours_ahead: int = Field(24, ge=1, le=720)


class BirthdayGift(_Benefit):
    kind: Literal["birthday_gift"] = "birthday_gift"
    points: int = Field(0, ge=0, le=10_000_000)
    coupon_template_id: int | None = None


class MemberDay(_Benefit):
    kind: Literal["member_day"] = "member_day"
    day_of_month: int = Field(ge=1, le=28)
    points_multiplier: int = Field(1, ge=1, le=10)


class AnniversaryGift(_Benefit):
    kind: Literal["anniversary_gift"] = "anniversary_gift"
    points: int = Field(0, ge=0, le=10_000_000)
    coupon_template_id: int | None = None


Benefit = Annotated[
    MemberPrice
    | FreeShipping
    | FreeReturns
    | EarlyAccess
    | BirthdayGift
    | MemberDay
    | AnniversaryGift,
    Field(discriminator="kind"),
]
KINDS = (
    "member_price",
    "free_shipping",
    "free_returns",
    "early_access",
    "birthday_gift",
    "member_day",
    "anniversary_gift",
)
_LIST = TypeAdapter(list[Benefit])
MAX_BENEFITS = 30


def clean_benefits(items: Any, field: list[str]) -> list[dict[str, Any]]:
    """The benefits as stored, or every problem naming its item and field."""
    if not isinstance(items, list):
        raise DomainError("INVALID", "benefits must be a list", field)
    if len(items) > MAX_BENEFITS:
        raise DomainError("TOO_MANY", f"at most {MAX_BENEFITS} benefits", field)
    try:
        parsed = _LIST.validate_python(items)
    except ValidationError as exc:
        raise DomainErrors(
            [
                DomainError(
                    "INVALID",
                    err["msg"],
                    [*field, *(str(p) for p in err["loc"] if not _is_tag(p))],
                )
                for err in exc.errors(include_input=False, include_url=False)
            ]
        ) from None
    kinds = [b.kind for b in parsed]
    for i, kind in enumerate(kinds):
        if kind in kinds[:i]:
            raise DomainError("DUPLICATE", f"{kind} is listed twice", [*field, str(i), "kind"])
    return [b.model_dump(mode="json") for b in parsed]


def _is_tag(part: Any) -> bool:
    # pydantic puts the union member's tag in the location ("member_price");
    # the caller's path has only the index and the field.
    return isinstance(part, str) and part in KINDS
