"""Password rules: long enough, not common, no composition rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iportal.accounts.passwords import MAX_LENGTH, MIN_LENGTH, check_password, is_common
from iportal.errors import InvalidInput


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "qwertyuiopas",
        "123456789012",
        "dragon2024!!",
        "iloveyouiloveyou",
        "SunshineSunshine",
        "azertyuiop123",
    ],
)
def test_common_passwords_and_their_decorations_are_refused(password: str) -> None:
    assert len(password) >= MIN_LENGTH
    with pytest.raises(InvalidInput) as refused:
        check_password(password)
    assert "too easy to guess" in refused.value.message


def test_length_rules() -> None:
    with pytest.raises(InvalidInput) as short:
        check_password("a" * (MIN_LENGTH - 1))
    assert short.value.params == {"min": 12, "good": 15}
    check_password("correct horse battery staple " * 4)  # 116 characters
    check_password("x7" + "kQ9#mZ2!pL4@" * 10 + "w")  # 123 characters, allowed
    with pytest.raises(InvalidInput):
        check_password("k" * (MAX_LENGTH + 1))


def test_the_address_itself_is_not_a_password() -> None:
    with pytest.raises(InvalidInput):
        check_password("anna.peeters@example.be!", email="anna.peeters@example.be")


@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
        min_size=MIN_LENGTH,
        max_size=40,
    ).filter(lambda p: not is_common(p))
)
def test_no_composition_rules_any_long_uncommon_password_is_fine(password: str) -> None:
    check_password(password)
