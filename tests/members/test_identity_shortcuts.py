"""Identity normalisation's shortcuts give the answers of the code they
stand in for."""

from __future__ import annotations

import phonenumbers.phonenumberutil as phone_util
from hypothesis import example, given
from hypothesis import strategies as st

from tessera.errors import DomainError
from tessera.members import identities
from tessera.members.identities import normalise_phone

# Phone-like text: ASCII digits and the marks people type, sometimes the
# world's other numerals (full-width, Arabic-Indic, superscripts) and letters.
_PHONE_CHARACTERS = st.sampled_from("0123456789 +-().#*xX~/" + "０１２３４５６٠١٢٣²³¹a")
phone_texts = st.one_of(
    st.text(_PHONE_CHARACTERS, max_size=24),
    st.builds(lambda n: f"139{n:08d}", st.integers(0, 99_999_999)),
    st.text(max_size=24),
)


@given(text=st.one_of(phone_texts, st.text()), keep=st.booleans())
@example(text="１３９ 0013-8000", keep=False)
@example(text="+86 (139) 0013-8000 ext. 12", keep=True)
@example(text="²³", keep=False)
def test_the_digits_of_a_number_are_the_packages_digits(text: str, keep: bool) -> None:
    assert identities._normalize_digits_only(text, keep) == identities._digits_by_character(
        text, keep
    )


def _normalised(text: str, region: str) -> tuple[str, str | None]:
    try:
        return "ok", normalise_phone(text, region, ["phone"])
    except DomainError as error:
        return error.code, error.message


@given(text=phone_texts, region=st.sampled_from(["CN", "US", "GB", "ZZ"]))
@example(text="13900138000", region="CN")
@example(text="+86 139-0013-8000", region="US")
@example(text="０１３９００１３８０００", region="CN")
def test_phone_numbers_normalise_as_with_the_packages_own_digits(text: str, region: str) -> None:
    fast = _normalised(text, region)
    phone_util.normalize_digits_only = identities._digits_by_character
    try:
        slow = _normalised(text, region)
    finally:
        phone_util.normalize_digits_only = identities._normalize_digits_only
    assert fast == slow
