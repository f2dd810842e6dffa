"""How sealed rows are built and read back when their key is gone (no database needed)."""

import os
import re
from uuid import uuid4

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.write.adapters.append_sql import insert_statement
from services.write.adapters.sealing import blanked
from services.write.domain.order import Order
from shared.contracts.events import OrderLine, OrderPlaced, ShippingAddress
from shared.contracts.personal import seal, unseal


def test_each_variant_of_the_insert_numbers_its_parameters_in_order() -> None:
    for tracked in (False, True):
        for erased in (False, True):
            for keys in (False, True):
                statement = insert_statement(tracked, erased, keys)
                numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", statement)})
                assert numbers == list(range(1, 9 + tracked + erased + 3 * keys))
                assert ("customer_erasures" in statement) is erased
                assert ("INSERT INTO customer_keys" in statement) is keys


def test_an_order_whose_key_is_gone_folds_without_its_address() -> None:
    customer, event_id, order_id = uuid4(), uuid4(), uuid4()
    event = OrderPlaced(
        customer_id=customer,
        items=[OrderLine(sku="S", name="Widget", quantity=2, unit_price="1.50")],
        shipping_address=ShippingAddress(
            line1="1 Main St", city="Paris", postal_code="75001", country="FR"
        ),
        currency="EUR",
        total="3.00",
    )
    data = seal(
        event.model_dump(mode="json"),
        "OrderPlaced",
        AESGCM(os.urandom(32)),
        subject=customer,
        event_id=event_id,
    )
    opened = unseal(data, "OrderPlaced", None, subject=customer, event_id=event_id)
    erased = blanked("OrderPlaced", data, opened)
    assert isinstance(erased, OrderPlaced)
    assert erased.shipping_address.model_dump() == {
        "line1": None,
        "city": None,
        "postal_code": None,
        "country": "FR",
    }
    order = Order.rehydrate(order_id, [erased])
    assert order.customer_id == customer and order.lines["S"].quantity == 2
