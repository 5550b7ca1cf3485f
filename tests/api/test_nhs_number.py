"""NHS number Modulus 11 check: known numbers, every single-digit error, and the refusal messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.nhs_number import InvalidNhsNumber, check_digit, formatted, is_valid, normalise

# NHS Digital's published test numbers (synthetic, never issued to a person).
VALID = ["9434765919", "4010232137", "9990548609"]


@pytest.mark.parametrize("number", VALID)
def test_known_valid_numbers(number: str) -> None:
    assert normalise(number) == number
    assert normalise(formatted(number)) == number
    assert normalise(f"{number[:3]}-{number[3:6]}-{number[6:]}") == number


def test_check_digit_worked_example() -> None:
    # 9 4 3 4 7 6 5 9 1 weighted 10..2: 90+36+24+28+42+30+20+27+2 = 299; 299 mod 11 = 2; 11-2 = 9.
    assert check_digit("943476591") == 9


def test_a_check_of_ten_means_no_valid_number() -> None:
    # 1 2 3 4 5 6 7 8 1: 10+18+24+28+30+30+28+24+2 = 194; 194 mod 11 = 7 -> 4. Search one giving 10:
    nine = next(f"{n:09d}" for n in range(10**8, 10**8 + 1000) if check_digit(f"{n:09d}") is None)
    with pytest.raises(InvalidNhsNumber, match="check digit of 10"):
        normalise(nine + "0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("943476591", "10 digits"),
        ("94347659190", "10 digits"),
        ("94347659A9", "10 digits"),
        ("9434765918", "does not match the Modulus 11 check"),
    ],
)
def test_refusals_say_what_is_wrong_without_echoing_the_number(text: str, message: str) -> None:
    with pytest.raises(InvalidNhsNumber, match=message) as caught:
        normalise(text)
    assert text not in str(caught.value)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_single_digit_change_is_caught(nine: str) -> None:
    check = check_digit(nine)
    if check is None:
        assert not any(is_valid(nine + str(d)) for d in range(10))
        return
    number = nine + str(check)
    assert is_valid(number)
    for position in range(10):
        for digit in "0123456789":
            if digit != number[position]:
                changed = number[:position] + digit + number[position + 1 :]
                # Modulus 11 with distinct weights catches every single-digit substitution.
                assert not is_valid(changed), changed
