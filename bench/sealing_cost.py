"""What sealing adds to a command's CPU in the write service: its append path's data step (the
event's data as the row's JSON) timed in this process with and without the personal values
sealed, for the two commands that carry them. A registration also makes its customer's data key
and wraps it under the key-encryption key; an order seals under its customer's key, which the
write service holds in memory (KeyCache) after the first order of that customer.

Measured in-process because the difference is about 1% of a command's CPU: well below what two
runs of the same service differ by on a shared machine.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.write.adapters.customer_keys import NewKey
from services.write.adapters.keys import LocalKeyWrapper
from services.write.adapters.sealing import Sealing
from shared.contracts.events import CUSTOMER, ORDER, CustomerRegistered, DomainEvent, OrderPlaced
from shared.contracts.personal import new_data_key
from shared.contracts.serialization import EventSerializer

from .workload import email_address, place_order_body

REPEATS = 20_000


class _Keys:
    """The write service's key port as a warm process has it: a registration's key made and
    wrapped here, an order's customer's cipher in memory."""

    def __init__(self) -> None:
        self.wrapper = LocalKeyWrapper(os.urandom(32), "bench")
        self.cipher = AESGCM(new_data_key())

    async def new_key(self, customer_id: uuid.UUID) -> NewKey:
        key = new_data_key()
        return NewKey(AESGCM(key), await self.wrapper.wrap(customer_id, key), "bench")

    async def for_append(self, customer_id: uuid.UUID) -> AESGCM:
        return self.cipher


def commands() -> dict[str, tuple[str, DomainEvent]]:
    order: dict[str, Any] = place_order_body(str(uuid.uuid4()), 1)
    placed = OrderPlaced.model_validate({**order, "total": "10.00"})
    registered = CustomerRegistered(name="Ada Lovelace 1", email=email_address(1))
    return {"register": (CUSTOMER, registered), "place_order": (ORDER, placed)}


async def sealing_us(repeats: int = REPEATS) -> dict[str, float]:
    """µs of CPU that sealing adds to each command's append (best of three runs of each)."""
    sealing, serializer = Sealing(_Keys(), EventSerializer()), EventSerializer()  # type: ignore[arg-type]
    added = {}
    for name, (stream_type, event) in commands().items():
        sealed = clear = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(repeats):
                await sealing.seal(
                    stream_type=stream_type,
                    stream_id=uuid.uuid4(),
                    expected_version=0,
                    events=[event],
                    event_ids=[uuid.uuid4()],
                )
            sealed = min(sealed, time.process_time() - started)
            started = time.process_time()
            for _ in range(repeats):  # the same step as the unsealed append takes it
                uuid.uuid4(), uuid.uuid4()
                orjson.dumps(serializer.to_data(event)).decode()
            clear = min(clear, time.process_time() - started)
        added[name] = max(0.0, (sealed - clear) / repeats * 1e6)
    return added
