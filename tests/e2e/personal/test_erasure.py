"""Personal data end to end, over the real servers: a canary customer's values are kept only
sealed (never clear in PostgreSQL, Kafka or the logs; clear only in the read documents), and once
erased they are nowhere, not even after a rebuild or a restore of the key table from a backup.
Waits are bounded polls, never fixed sleeps."""

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.contracts.events import CUSTOMER_ERASED, CUSTOMER_REGISTERED, ORDER_PLACED
from shared.contracts.personal import ERASED_FIELDS
from tests.e2e.personal.backup import copy_keys, drop_keys, restore_keys
from tests.e2e.personal.canary import hatch
from tests.e2e.personal.checks import (
    BLANK_ADDRESS,
    assert_refused,
    counted,
    disclosed,
    disclosures,
)
from tests.e2e.personal.scans import (
    Places,
    assert_nowhere,
    found_anywhere,
    found_in,
    log_hits,
    nonempty,
    report,
)
from tests.e2e.personal.world import (
    ALL_BUT_PII,
    ERASE,
    ERASER,
    KEYS,
    PII,
    Doc,
    Erased,
    Stack,
    client_of,
    erase,
    erasure_state,
    stream_events,
)
from tests.e2e.read_api import assert_problem
from tests.e2e.rebuild.command import rebuild
from tests.e2e.rebuild.database import ReadDatabase
from tests.e2e.rebuild.serving import wait_applied
from tests.read_side import PROJECTIONS, served
from tests.services import RunningService

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def test_personal_values_are_kept_only_sealed_and_shown_only_by_the_read_side(
    write_service: RunningService,
    read_service: RunningService,
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    places: Places,
) -> None:
    canary = await hatch(client)
    await wait_applied(write_service, read_service)
    # A lookup by email puts the email in a query string: no log may keep it.
    lookup = await reader.get("/customers", params={"email": canary.emails[1].upper()})
    assert lookup.status_code == 200, lookup.text
    assert [c["id"] for c in lookup.json()["customers"]] == [canary.customer_id]
    streams = await stream_events(client, canary.customer_id, *canary.orders)
    ids = {str(e["event_id"]) for events in streams.values() for e in events}

    hits = await places.hits(canary.values, ids)

    # The read documents show them: the scans find what is there.
    shown = found_anywhere(hits.pop("mongodb"))
    assert shown >= set(canary.shown), f"not in the read documents: {set(canary.shown) - shown}"
    assert not nonempty(hits), "clear personal values found:\n" + report(hits)


async def test_an_erasure_leaves_the_values_nowhere_and_the_orders_in_place(
    erased: Erased,
    stack: Stack,
    reader: httpx.AsyncClient,
    places: Places,
) -> None:
    canary, stays = erased.canary, erased.neighbour
    assert erased.receipt.headers["location"] == f"/erasures/{canary.customer_id}"
    receipt = erased.receipt.json()
    assert receipt["customer_id"] == canary.customer_id
    assert receipt["event_id"] == erased.event(canary.customer_id, CUSTOMER_ERASED)
    assert receipt["fields"] == list(ERASED_FIELDS)
    assert receipt["key_destroyed"] is True
    assert receipt["claims_released"] == 1  # the current email: the change released the first
    assert receipt["requested_by"] == ERASER
    now = (await erasure_state(stack, canary.customer_id)).raise_for_status().json()
    assert (now["key_present"], now["claims_held"]) == (False, 0), now
    assert {"customers", "order_details"} <= set(now["projections"]), now

    await assert_nowhere(places, canary.values, erased.event_ids)

    after = await served(reader, canary.paths)
    profile, before = after[canary.paths[0]], erased.documents[canary.paths[0]]
    assert (profile["name"], profile["email"], profile["email_history"]) == (None, None, [])
    assert profile["erased"] is True
    assert profile["order_count"] == before["order_count"]
    assert profile["lifetime_value"] == before["lifetime_value"]
    for path in canary.paths[1:]:
        order, before = after[path], erased.documents[path]
        assert (order["total"], order["status"]) == (before["total"], before["status"])
        assert (order["customer_name"], order["customer_email"]) == (None, None)
        assert order["shipping_address"] == {**BLANK_ADDRESS, "country": "FR"}, order
        assert order["erased"] is True
    # The neighbour is intact.
    shown = await served(reader, stays.paths)
    assert (shown[stays.paths[0]]["name"], shown[stays.paths[0]]["email"]) == (
        stays.names[0],
        stays.emails[0],
    )
    order = shown[stays.paths[1]]
    assert (order["customer_name"], order["customer_email"]) == (stays.names[0], stays.emails[0])
    assert order["shipping_address"] == stays.address


async def test_a_rebuild_after_the_erasure_brings_nothing_back(
    erased: Erased,
    stack: Stack,
    reader: httpx.AsyncClient,
    mongo_client: AsyncMongoClient[Doc],
    places: Places,
    operator_outputs: list[str],
) -> None:
    read_db = ReadDatabase(mongo_client, stack.read.env["MONGODB_DATABASE"])
    await wait_applied(stack.write, stack.read)
    counts, documents = await counted(read_db), await served(reader, erased.paths)

    done = await rebuild(stack.read.env)
    operator_outputs.append(done.stdout + done.stderr)
    assert done.code == 0, done
    assert set(done.summaries()) == set(PROJECTIONS), done
    await wait_applied(stack.write, stack.read)

    assert await counted(read_db) == counts
    assert await served(reader, erased.paths) == documents
    await assert_nowhere(places, erased.canary.values, erased.event_ids)


async def test_an_erased_customer_takes_no_new_personal_data_and_frees_their_email(
    erased: Erased, stack: Stack, client: httpx.AsyncClient
) -> None:
    canary = erased.canary
    async with client_of(stack.write, stack.issuer, *ERASE) as eraser:
        again = await eraser.post(f"/customers/{canary.customer_id}/erasure")
    assert again.status_code == 200, again.text
    assert again.json() == erased.receipt.json()

    await assert_refused(client, canary)

    # The email is free: it registers again, as someone new.
    body = {"name": "Canary Again", "email": canary.emails[-1]}
    registered = await client.post("/customers", json=body)
    assert registered.status_code == 201, registered.text
    assert registered.json()["id"] != canary.customer_id
    # Erased in turn, so that the email is nowhere again for the other tests.
    await erase(stack, registered.json()["id"])


async def test_personal_data_opens_for_live_customers_and_the_pii_scope_only(
    erased: Erased, stack: Stack
) -> None:
    canary, stays = erased.canary, erased.neighbour
    write_service, issuer = stack.write, stack.issuer
    gone = erased.event(canary.customer_id, CUSTOMER_REGISTERED)
    registered = erased.event(stays.customer_id, CUSTOMER_REGISTERED)
    placed = erased.event(stays.orders[0], ORDER_PLACED)
    async with client_of(write_service, issuer, *PII) as pii:
        answer = await pii.get(f"/events/{gone}/personal-data")
        assert_problem(answer, 410)
        assert not found_in(answer.text, canary.values), answer.text
        opened = [await pii.get(f"/events/{e}/personal-data") for e in (registered, placed)]
    for answer in opened:
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
    assert opened[0].json() == disclosed(registered, CUSTOMER_REGISTERED, stays)
    assert opened[1].json() == disclosed(placed, ORDER_PLACED, stays)
    async with client_of(write_service, issuer, *ALL_BUT_PII) as staff:
        assert_problem(await staff.get(f"/events/{registered}/personal-data"), 403)

    audited = await disclosures(write_service.env["DATABASE_URL"])
    assert {gone, registered, placed} <= audited, audited
    assert not log_hits([write_service.log], stays.values), "a disclosed value was logged"


async def test_a_key_table_restored_from_a_backup_revives_nothing(
    erased: Erased,
    stack: Stack,
    client: httpx.AsyncClient,
    places: Places,
    operator_outputs: list[str],
) -> None:
    write_service, issuer = stack.write, stack.issuer
    canary, pg_url = erased.canary, write_service.env["DATABASE_URL"]
    assert erased.key_rows, "the backup holds no key row of the canary"
    await restore_keys(pg_url, erased.key_rows)
    try:
        assert await copy_keys(pg_url, canary.customer_id) == erased.key_rows
        async with client_of(write_service, issuer, *PII) as pii:
            for event_id in erased.personal_events(canary):
                assert_problem(await pii.get(f"/events/{event_id}/personal-data"), 410)
        async with client_of(write_service, issuer, *KEYS) as keys:
            wanted = [canary.customer_id, erased.neighbour.customer_id]
            answer = await keys.post("/personal-data/keys", json={"customer_ids": wanted})
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["erased"] == [canary.customer_id], found["erased"]
        assert set(found["keys"]) == {erased.neighbour.customer_id}
        await assert_refused(client, canary)

        done = await rebuild(stack.read.env)
        operator_outputs.append(done.stdout + done.stderr)
        assert done.code == 0, done
        await wait_applied(stack.write, stack.read)
        await assert_nowhere(places, canary.values, erased.event_ids)
    finally:
        await drop_keys(pg_url, canary.customer_id)
