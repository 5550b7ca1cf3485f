"""NHS numbers: normalise and check the Modulus 11 check digit (pure, standard library only).

An NHS number is 10 digits; the 10th is a check digit over the first nine:

1. multiply digit 1 by 10, digit 2 by 9, ... digit 9 by 2, and add the products;
2. remainder = total mod 11; check = 11 - remainder;
3. a check of 11 is written 0; a check of 10 means the number is invalid (never issued);
4. the number is valid when the check equals the 10th digit.

People write it as ``943 476 5919`` or ``943-476-5919``: spaces and hyphens are dropped before
checking. Errors name what is wrong without repeating the number (it is a patient identifier).
"""

from __future__ import annotations

import re

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_SEPARATORS = re.compile(r"[ \-]")
_DIGITS = re.compile(r"^[0-9]{10}$")


class InvalidNhsNumber(ValueError):
    """The text is not a valid NHS number; the message says why (and never contains the number)."""


def check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit of nine digits, or None when no valid number has them (check 10)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("expected exactly nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def normalise(text: str) -> str:
    """The 10-digit form of ``text``, or :class:`InvalidNhsNumber` saying what is wrong."""
    digits = _SEPARATORS.sub("", text.strip())
    if not _DIGITS.match(digits):
        raise InvalidNhsNumber("an NHS number is 10 digits (spaces or hyphens between groups are allowed)")
    expected = check_digit(digits[:9])
    if expected is None:
        raise InvalidNhsNumber("not a valid NHS number: its first nine digits give a check digit of 10")
    if expected != int(digits[9]):
        raise InvalidNhsNumber(
            "not a valid NHS number: the check digit (10th digit) does not match the Modulus 11 check"
        )
    return digits


def is_valid(text: str) -> bool:
    try:
        normalise(text)
    except InvalidNhsNumber:
        return False
    return True


def formatted(digits: str) -> str:
    """``9434765919`` -> ``943 476 5919`` (the 3-3-4 grouping people read)."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
