"""What operators are shown of the process: event data without personal data, and page cursors
that only this service makes."""

import base64
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.write.application.processes import PageAfter, without_personal_data
from shared.contracts.envelope import InvalidCursor


def test_names_emails_and_addresses_are_left_out_at_any_depth() -> None:
    placed = {
        "customer_id": "c-1",
        "items": [{"sku": "A-1", "name": "Widget", "quantity": 2, "unit_price": "4.50"}],
        "shipping_address": {"line1": "1 Main St", "city": "Leeds", "country": "GB"},
        "currency": "EUR",
        "tracked": ["A-1"],
    }
    assert without_personal_data(placed) == {
        "customer_id": "c-1",
        "items": [{"sku": "A-1", "quantity": 2, "unit_price": "4.50"}],
        "currency": "EUR",
        "tracked": ["A-1"],
    }
    changed = {"old_email": "a@x.io", "new_email": "b@x.io", "display_name": "Ada", "by": "ops"}
    assert without_personal_data(changed) == {"by": "ops"}
    line = {"sku": "A-1", "quantity": 1, "cause": {"event_type": "OrderPlaced", "version": 1}}
    assert without_personal_data(line) == line


def test_a_cursor_comes_back_as_it_was_made() -> None:
    after = PageAfter(datetime(2026, 12, 6, 23, 40, 5, 123456, tzinfo=UTC), uuid4())
    assert PageAfter.decode(after.encode()) == after
    elsewhere = timezone(timedelta(hours=2))
    shifted = PageAfter(after.updated_at.astimezone(elsewhere), after.order_id)
    assert PageAfter.decode(shifted.encode()).updated_at == after.updated_at


@pytest.mark.parametrize(
    "raw",
    [
        b"2026-12-06T23:40:05|not-a-uuid",
        b"2026-12-06T23:40:05|" + str(uuid4()).encode(),  # no time zone
        b"yesterday|" + str(uuid4()).encode(),
        b"\xff\xfe",
        b"",
    ],
)
def test_anything_else_is_not_a_cursor(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        PageAfter.decode(text)
    with pytest.raises(InvalidCursor):
        PageAfter.decode(text + "!")
