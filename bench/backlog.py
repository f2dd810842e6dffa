"""A history shaped like live traffic, appended straight into the event store.

Unlike workload.history (each stream whole, one after the other), commands interleave here as
they do when many people use the system at once: about OPEN_ORDERS orders are under way at any
time, each advancing by one command at a time. Traffic is skewed as real traffic is: a few
customers (CUSTOMERS, registered first) place many orders each (some 150 in 30,000 events), now
and then renaming themselves or changing their email. Every command appends one event, as the
write API does.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from shared.contracts.events import (
    CustomerEmailChanged,
    CustomerRegistered,
    CustomerRenamed,
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderItemRemoved,
    OrderShipped,
)

from .rebuild import loading_store
from .workload import email_address, item_added, line, metadata, order_placed

OPEN_ORDERS = 200
APPENDERS = 16
CUSTOMERS = 44  # at 4.6 events per order, 30,000 events give each about 150 orders
PROFILE_CHANGE_EVERY = 50  # orders placed per rename, and per change of email


@dataclass(frozen=True)
class Append:
    """One command's append: one event at the stream's next version."""

    stream_type: str
    stream_id: UUID
    expected_version: int
    event: DomainEvent


@dataclass
class _Stream:
    stream_id: UUID
    version: int = 0
    to_come: deque[DomainEvent] = field(default_factory=deque)

    def next(self, stream_type: str, event: DomainEvent) -> Append:
        append = Append(stream_type, self.stream_id, self.version, event)
        self.version += 1
        return append


def order_script(rng: random.Random, n: int) -> list[DomainEvent]:
    """What happens to the n-th order after it is placed: 0-3 items added, 1 in 10 loses its
    first line, 1 in 5 is cancelled (placed or confirmed), the others confirmed and shipped."""
    script: list[DomainEvent] = [item_added(n + 2 + k) for k in range(rng.choice((0, 1, 2, 2, 3)))]
    if rng.random() < 0.1:
        first = line(n)
        script.append(OrderItemRemoved(sku=first.sku, quantity=first.quantity))
    if rng.random() < 0.2:
        confirmed: list[DomainEvent] = [OrderConfirmed()] if rng.random() < 0.5 else []
        return [*script, *confirmed, OrderCancelled(reason="changed their mind")]
    shipped = OrderShipped(carrier="Royal Mail", tracking_number=f"RM{n:09d}GB")
    return [*script, OrderConfirmed(), shipped]


class _Traffic:
    """The simulation behind live_history: who exists, which orders are under way."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.customers: list[_Stream] = []
        self.emails: dict[UUID, str] = {}
        self.open_orders: list[_Stream] = []
        self.placed = 0

    def _new_id(self) -> UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def register(self) -> Append:
        customer, n = _Stream(self._new_id()), len(self.customers)
        self.customers.append(customer)
        self.emails[customer.stream_id] = email = email_address(n)
        return customer.next("customer", CustomerRegistered(name=f"Customer {n}", email=email))

    def change_profile(self, *, rename: bool) -> Append:
        customer = self.rng.choice(self.customers)
        if rename:
            renamed = f"Customer {customer.stream_id.hex[:6]} (renamed)"
            return customer.next("customer", CustomerRenamed(name=renamed))
        old = self.emails[customer.stream_id]
        self.emails[customer.stream_id] = new = email_address(self.rng.randrange(1_000_000))
        return customer.next("customer", CustomerEmailChanged(old_email=old, new_email=new))

    def place(self) -> Append:
        order, n = _Stream(self._new_id()), self.placed
        order.to_come.extend(order_script(self.rng, n))
        self.open_orders.append(order)
        self.placed += 1
        customer = self.rng.choice(self.customers).stream_id
        return order.next("order", order_placed(customer, n))

    def advance(self) -> Append:
        """The next command of an order under way, chosen at random."""
        k = self.rng.randrange(len(self.open_orders))
        order = self.open_orders[k]
        append = order.next("order", order.to_come.popleft())
        if not order.to_come:  # done: its place goes to the last one
            self.open_orders[k] = self.open_orders[-1]
            self.open_orders.pop()
        return append

    def commands(self) -> Iterator[Append]:
        while len(self.customers) < CUSTOMERS:
            yield self.register()
        while True:
            if len(self.open_orders) >= OPEN_ORDERS:
                yield self.advance()
                continue
            if self.placed and self.placed % PROFILE_CHANGE_EVERY == 0:
                yield self.change_profile(rename=self.placed % (2 * PROFILE_CHANGE_EVERY) == 0)
            yield self.place()


def live_history(total: int, *, seed: int = 7) -> list[Append]:
    """`total` single-event appends, interleaved as in live traffic (deterministic per seed,
    but for the email addresses)."""
    return list(itertools.islice(_Traffic(seed).commands(), total))


def by_appender(appends: list[Append], count: int) -> list[list[Append]]:
    """Split the appends among `count` appenders, each stream always to the same one, so that
    a stream's appends are made in order while the others go on concurrently."""
    lanes: list[list[Append]] = [[] for _ in range(count)]
    for append in appends:
        lanes[append.stream_id.int % count].append(append)
    return lanes


async def append_history(
    database_url: str, appends: list[Append], keys: Mapping[str, str]
) -> float:
    """Append them with APPENDERS concurrent writers, sealing with `keys` (the write service's
    PII_KEK and PII_INDEX_KEY); returns the seconds it took."""
    started = time.perf_counter()
    async with loading_store(database_url, APPENDERS, keys) as store:

        async def appender(lane: Iterator[Append]) -> None:
            for a in lane:
                await store.append(
                    stream_type=a.stream_type,
                    stream_id=a.stream_id,
                    expected_version=a.expected_version,
                    events=[a.event],
                    metadata=metadata(),
                )

        await asyncio.gather(*(appender(iter(lane)) for lane in by_appender(appends, APPENDERS)))
    return time.perf_counter() - started
