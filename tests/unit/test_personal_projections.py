"""Personal data on the read side, over the applier's and the rebuild's fakes: sealed events
reach the projections opened (the keys of a batch asked for once), an erasure blanks the
customer's data in every document and is marked, and a rebuild after it (the key gone) gives
the documents the live path gave."""

import dataclasses
from typing import Any

import pytest

from services.read.application.personal import ERASURES, PersonalData
from services.read.projections import PROJECTIONS, customers, order_details, sales, stock
from services.read.projections.base import Event, Projection
from shared.contracts.personal import ERASED_FIELDS
from tests.unit.applier_world import ADDRESS, World, event, placed
from tests.unit.read_fakes import FakeKeyRing, FakeLog, FakeStreams
from tests.unit.test_rebuild import Rebuild, documents, positioned

ERASED_AT = "2026-11-23T09:00:00Z"


def erased(customer: str, version: int) -> Event:
    return event(customer, version, "CustomerErased", erased_at=ERASED_AT, fields=[*ERASED_FIELDS])


def history() -> list[Event]:
    """Two customers and their orders; the first changes email, then is erased, and one of their
    orders is cancelled after the erasure (orders may still change, without personal data)."""
    return positioned(
        [
            event("c1", 1, "CustomerRegistered", name="Ada", email="Ada@X.io"),
            placed("o1", "c1", "4.00"),
            event("c2", 1, "CustomerRegistered", name="Bob", email="b@x.io"),
            placed("o2", "c2"),
            event("c1", 2, "CustomerEmailChanged", old_email="Ada@X.io", new_email="ada@y.io"),
            placed("o3", "c1", "1.25"),
            event("o3", 2, "OrderConfirmed"),
            erased("c1", 3),
            event("o1", 2, "OrderCancelled", reason="no"),
        ]
    )


def world(projection: Projection, ring: FakeKeyRing) -> World:
    return World(PersonalData(projection, ring))


async def live(world: World, ring: FakeKeyRing, events: list[Event], size: int = 2) -> None:
    """The events delivered in batches, the key destroyed as the erasure is appended."""
    for n in range(0, len(events), size):
        batch = events[n : n + size]
        for e in batch:
            if e.event_type == "CustomerErased":
                ring.destroy(e.stream_id)
        await world.handle([world.records.of(e) for e in batch])


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
async def test_sealed_events_give_the_documents_their_clear_values_give(name: str) -> None:
    clear = history()[:7]  # before the erasure
    ring = FakeKeyRing()
    sealed = [ring.sealed(e) for e in clear]
    assert "Ada" not in str([e.data for e in sealed])
    opened, plain = world(PROJECTIONS[name], ring), World(PROJECTIONS[name])
    await live(opened, ring, sealed)
    await live(plain, FakeKeyRing(), clear)
    assert documents(opened.store) == documents(plain.store)


async def test_the_keys_of_a_batch_are_asked_for_once_and_only_for_what_is_shown() -> None:
    ring = FakeKeyRing()
    sealed = [ring.sealed(e) for e in history()[:7]]
    details, profiles = world(order_details.PROJECTION, ring), world(customers.PROJECTION, ring)
    await details.handle([details.records.of(e) for e in sealed])
    assert ring.asked == [{"c1", "c2"}]  # one call, for seven events of two customers
    await profiles.handle([profiles.records.of(e) for e in sealed[2:3]])
    await profiles.handle([profiles.records.of(e) for e in sealed[3:4]])  # an order: not shown
    assert ring.asked[1:] == [{"c2"}]
    assert profiles.doc("c2")["name"] == "Bob"


@pytest.mark.parametrize("projection", [sales.PROJECTION, stock.PROJECTION])
async def test_projections_without_personal_data_never_ask_for_keys(
    projection: Projection,
) -> None:
    ring = FakeKeyRing()
    target = world(projection, ring)
    await live(target, ring, [ring.sealed(e) for e in history()])
    assert ring.asked == [] and ring.forgotten == []
    assert target.store.role(ERASURES)["c1"]["event_id"] == "c1-3"  # the erasure applied


async def test_an_erasure_blanks_the_profile_and_keeps_the_totals() -> None:
    ring = FakeKeyRing()
    profiles = world(customers.PROJECTION, ring)
    await live(profiles, ring, [ring.sealed(e) for e in history()])
    doc = profiles.doc("c1")
    assert (doc["name"], doc["email"], doc["email_lower"], doc["email_history"]) == (
        None,
        None,
        None,
        [],
    )
    assert doc["erased"] is True and doc["erased_at"].isoformat() == "2026-11-23T09:00:00+00:00"
    assert (doc["order_count"], doc["lifetime_value"], doc["version"]) == (2, "1.25", 3)
    assert "erased" not in profiles.doc("c2") and profiles.doc("c2")["name"] == "Bob"
    assert ring.forgotten == ["c1"]
    assert profiles.store.role(ERASURES)["c1"]["version"] == 3


async def test_an_erasure_blanks_every_order_of_the_customer_and_nothing_else() -> None:
    ring = FakeKeyRing()
    details = world(order_details.PROJECTION, ring)
    before = [ring.sealed(e) for e in history()]
    await live(details, ring, before[:7])
    kept = {o: dict(details.doc(o)) for o in ("o1", "o2", "o3")}
    assert kept["o1"]["shipping_address"] == ADDRESS and kept["o1"]["customer_name"] == "Ada"
    await live(details, ring, before[7:])
    for order in ("o1", "o3"):
        doc = details.doc(order)
        assert (doc["customer_name"], doc["customer_email"], doc["erased"]) == (None, None, True)
        address = {"line1": None, "city": None, "postal_code": None, "country": "FR"}
        assert doc["shipping_address"] == address
        assert (doc["total"], doc["items"]) == (kept[order]["total"], kept[order]["items"])
    assert details.doc("o1")["status"] == "cancelled" and details.doc("o3")["status"] == "confirmed"
    assert details.doc("o2") == {**kept["o2"], "_rev": details.doc("o2")["_rev"]}
    customer = details.doc("c1", "customers")
    assert (customer["name"], customer["email"], customer["erased"]) == (None, None, True)


async def test_an_order_placed_before_the_erasure_and_folded_after_it_is_blanked() -> None:
    ring = FakeKeyRing()  # the key still known here: another replica's cache, say
    details = world(order_details.PROJECTION, ring)
    events = [ring.sealed(e) for e in history()]
    late = events[5]  # o3's placement
    await live(details, FakeKeyRing(), [e for e in events if e.stream_type == "customer"])
    await details.handle([details.records.of(late)])
    doc = details.doc("o3")
    assert doc["erased"] is True and doc["customer_name"] is None
    assert doc["shipping_address"]["line1"] is None


@pytest.mark.parametrize("size", [1, 2, 9])
@pytest.mark.parametrize("name", sorted(PROJECTIONS))
async def test_a_rebuild_after_the_erasure_gives_the_documents_of_the_live_path(
    name: str, size: int
) -> None:
    ring = FakeKeyRing()
    events = [ring.sealed(e) for e in history()]
    live_side = world(PROJECTIONS[name], ring)
    await live(live_side, ring, events, size)
    assert ring.ciphers.keys() == {"c2"}  # the erased customer's key is gone
    rebuilt = world(PROJECTIONS[name], ring)
    progress = await Rebuild(rebuilt, FakeLog(events, page_size=size)).run()
    assert progress.phase == "done"
    held = {role: docs for role, docs in documents(rebuilt.store).items() if docs}
    assert held == documents(live_side.store)  # (a rebuild creates its collections, if empty)
    assert "c1" in held[ERASURES]


async def test_an_erasure_delivered_again_changes_nothing() -> None:
    ring = FakeKeyRing()
    profiles = world(customers.PROJECTION, ring)
    events = [ring.sealed(e) for e in history()]
    await live(profiles, ring, events)
    written = documents(profiles.store)
    await profiles.handle([profiles.records.of(e) for e in events[6:]])
    restarted = profiles.new_applier()  # nothing kept: the markers are read from the store
    await profiles.handle([profiles.records.of(e) for e in events[7:]], restarted)
    assert documents(profiles.store) == written and profiles.dead.letters == []


def tampered(sealed: Event) -> Event:
    value = dict(sealed.data["name"])
    value["ct"] = ("B" if value["ct"][0] == "A" else "A") + value["ct"][1:]
    return Event(**{**sealed.__dict__, "data": {**sealed.data, "name": value}})


async def test_a_value_that_does_not_open_fails_its_event_alone() -> None:
    ring = FakeKeyRing()
    profiles = world(customers.PROJECTION, ring)
    events = [ring.sealed(e) for e in history()[:3]]
    bad = profiles.records.of(tampered(events[2]))
    await profiles.handle([profiles.records.of(events[0]), bad])
    [(_, record, error)] = profiles.dead.letters
    assert record == bad and error.startswith("Unreadable: ") and "Bob" not in error
    assert profiles.doc("c1")["name"] == "Ada"


async def test_events_brought_to_heal_a_gap_are_opened_too() -> None:
    ring = FakeKeyRing()
    profiles = world(customers.PROJECTION, ring)
    events = [ring.sealed(e) for e in history()]
    profiles.streams = FakeStreams(events)
    profiles.applier = profiles.new_applier()
    await profiles.handle([profiles.records.of(events[4])])  # c1's version 2 first
    assert profiles.streams.asked == [("c1", 0)]
    assert (profiles.doc("c1")["name"], profiles.doc("c1")["email"]) == ("Ada", "ada@y.io")


async def test_values_written_before_sealing_stay_and_need_no_key() -> None:
    ring = FakeKeyRing()
    details = world(order_details.PROJECTION, ring)
    await live(details, ring, history()[:7])
    assert ring.asked == []
    assert details.doc("o1")["customer_name"] == "Ada"


async def test_a_customer_without_a_key_shows_nothing_personal() -> None:
    ring = FakeKeyRing()
    sealed = ring.sealed(history()[0])
    ring.destroy("c1")
    profiles = world(customers.PROJECTION, ring)
    await profiles.handle([profiles.records.of(sealed)])
    doc: dict[str, Any] = profiles.doc("c1")
    assert (doc["name"], doc["email"], doc["email_history"], doc["version"]) == (None, None, [], 1)


def test_an_event_with_other_data_keeps_every_other_field() -> None:
    fields = {f.name: f"value of {f.name}" for f in dataclasses.fields(Event)}
    event = Event(**fields)  # type: ignore[arg-type]
    again = event.with_data({"other": True})
    assert again == dataclasses.replace(event, data={"other": True})
