"""Exact money: decimals with two places, carried as strings in JSON."""

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 12
AMOUNT_PATTERN = rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$"
MAX_AMOUNT = Decimal("9" * MAX_INTEGER_DIGITS + ".99")
# fullmatch, and [0-9] rather than \d: `$` would also take a trailing newline, \d other scripts'
# digits.
_AMOUNT = re.compile(AMOUNT_PATTERN.strip("^$"))


def parse_amount(value: Any) -> Decimal:
    """A JSON amount ("19.90") or an amount computed here (a Decimal), refused unless it is
    non-negative, finite, within range and at most two places."""
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        return Decimal(value).quantize(CENT)
    if type(value) is Decimal and value.is_finite() and not value.is_signed():
        if value == value.quantize(CENT) and value <= MAX_AMOUNT:
            return value.quantize(CENT)
    raise ValueError(
        f"must be a string of at most {MAX_INTEGER_DIGITS} digits with at most two decimals, "
        'such as "19.90" (no sign, exponent or spaces)'
    )


def quantize(value: Decimal) -> Decimal:
    """Round a computed amount to cents (banker's rounding)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(value: Decimal) -> str:
    """An amount as JSON carries it: a string with two places ("19.90"), rounded as
    `quantize` rounds."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


Money = Annotated[
    Decimal,
    PlainValidator(parse_amount),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "maxLength": MAX_INTEGER_DIGITS + 3,
            "examples": ["19.90"],
            "description": "An amount: ASCII digits with at most two decimals, no sign.",
        }
    ),
]
"""A non-negative amount of at most two places, a JSON string of digits."""
