"""Exact money: decimals with two places, carried as strings in JSON."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer

CENT = Decimal("0.01")


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite decimal")
    if value != value.quantize(CENT):
        raise ValueError("must have at most two decimal places")
    return value.quantize(CENT)


def quantize(value: Decimal) -> Decimal:
    """Round a computed amount to cents (banker's rounding)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(value: Decimal) -> str:
    return str(value.quantize(CENT))


Money = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2, allow_inf_nan=False),
    AfterValidator(_two_places),
    PlainSerializer(format_money, return_type=str, when_used="json"),
]
"""A non-negative-or-not amount with two places; validators for the sign live on the fields."""
