"""Personal data as the projections get it, the same on every path: the live applier, rebuilds,
dead letters replayed and the healing of gaps all apply a projection through `PersonalData`.

Events come as the log holds them, each personal value sealed under its customer's key (or
clear, written before sealing existed). A projection that shows personal data (its
`personal_types`) gets those values opened: one call to the key ring for the customers of the
whole batch, then each value opened with its customer's cipher; None where the customer was
erased, since the key is gone. The live path opens a value, then blanks it when CustomerErased
comes; a rebuild after the erasure folds None from the start: the same documents either way. A
value that does not open under its key (tampered with, or moved from elsewhere) fails its event,
which goes the way of any failing event.

Every projection, whether it shows personal data or not, also keeps a marker of each
CustomerErased it applied (role `erasures`, in the same version as its documents, so a rebuild
writes them too): what `GET /erasures/{customer_id}` reads.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.cloudevents import parse_time
from shared.contracts.events import CUSTOMER_ERASED
from shared.contracts.personal import any_sealed, subject_of, unseal

from ..projections.base import Doc, Event, Heal, Outcome, Projection, Store, Wrapped
from ..projections.rollup import Rollups
from .ports import KeyRing

ERASURES = "erasures"  # the role of each projection's erasure markers


class PersonalData(Wrapped):
    """A projection with its events' personal values opened and its erasures marked."""

    def __init__(self, inner: Projection, keys: KeyRing) -> None:
        super().__init__(inner)
        self.keys = keys

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        opened = await self.open(events)
        outcome = await self.inner.apply(store, opened, self._healing(heal), memo)
        erased = {e.stream_id: e for e in events if e.event_type == CUSTOMER_ERASED}
        if erased:
            await mark_erased(store, erased)
            if self.personal_types:
                for customer_id in erased:
                    self.keys.forget(customer_id)
        return outcome

    async def open(self, events: Sequence[Event]) -> list[Event]:
        """The events with the personal values this projection shows opened (the keys of
        their customers asked for in one call); the others as they are."""
        types = self.personal_types
        subjects: dict[str, str] = {}
        for e in events:
            if e.event_type in types and (subject := self._sealed(e)):
                subjects[e.event_id] = subject
        if not subjects:
            return list(events)
        ciphers = await self.keys.keys(set(subjects.values()))
        opened = []
        for e in events:
            subject = subjects.get(e.event_id)
            opened.append(e if subject is None else _opened(e, subject, ciphers.get(subject)))
        return opened

    @staticmethod
    def _sealed(event: Event) -> str | None:
        """The customer whose key opens the event (of a type this projection shows), if it
        holds a sealed value."""
        if not any_sealed(event.data, event.event_type):
            return None  # written before sealing: nothing to open
        return subject_of(event.event_type, event.stream_type, event.stream_id, event.data)

    def _healing(self, heal: Heal) -> Heal:
        """`heal`, with the events it brings opened as the batch's are."""
        if not self.personal_types:
            return heal

        async def healed(stream_id: str, have: int) -> list[Event]:
            return await self.open(await heal(stream_id, have))

        return healed


def _opened(event: Event, subject: str, cipher: AESGCM | None) -> Event:
    """The event with its sealed values opened (None without a cipher); Unreadable when one
    does not open."""
    data = unseal(event.data, event.event_type, cipher, subject=subject, event_id=event.event_id)
    return event.with_data(data)


async def mark_erased(store: Store, erased: dict[str, Event]) -> None:
    """A marker for each customer whose CustomerErased was applied (once: a redelivery finds
    it there)."""
    have = await store.load(ERASURES, erased)
    markers = {c: marker(e) for c, e in erased.items() if c not in have}
    await store.save(ERASURES, markers, {})


def marker(event: Event) -> Doc:
    erased_at: Any = event.data.get("erased_at")
    return {
        "_id": event.stream_id,
        "event_id": event.event_id,
        "version": event.version,
        "erased_at": parse_time(erased_at) if isinstance(erased_at, str) else erased_at,
    }


def with_personal_data(projections: Iterable[Projection], keys: KeyRing) -> dict[str, Projection]:
    """Each projection as every path applies it, by name."""
    return {p.name: PersonalData(p, keys) for p in projections}
