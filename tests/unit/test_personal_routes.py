"""The personal-data routes over the application and its fakes, in process: their answers,
headers and problems (who may call them is tested end to end, with real tokens)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from services.write.application.handlers import CommandHandlers
from services.write.application.personal import PersonalDataHandlers
from services.write.entrypoints.app import create_app
from services.write.settings import WriteSettings
from shared.plumbing.http import PROBLEM_JSON
from tests.auth import pii_settings

from .fakes import FakeEventStore
from .personal_fakes import FakeErasureProgress, FakePersonalData

ERASED = "urn:ordering:problem:customer-erased"
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


@dataclass
class Service:
    """What the routes use of the WriteService."""

    handlers: CommandHandlers
    personal_data: PersonalDataHandlers


@pytest.fixture
def personal() -> FakePersonalData:
    return FakePersonalData(FakeEventStore())


@pytest.fixture
async def http(personal: FakePersonalData) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(WriteSettings(auth_disabled=True, **pii_settings()))
    handlers = CommandHandlers(personal.store)
    app.state.service = Service(
        handlers, PersonalDataHandlers(handlers, personal, FakeErasureProgress())
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://write") as client:
        yield client


async def customer(http: httpx.AsyncClient, email: str = "ada@example.com") -> str:
    registered = await http.post("/customers", json={"name": "Ada", "email": email})
    assert registered.status_code == 201, registered.text
    return str(registered.json()["id"])


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    return body


async def test_an_erasure_answers_its_receipt_where_its_state_is(http: httpx.AsyncClient) -> None:
    ada = await customer(http)
    erased = await http.post(f"/customers/{ada}/erasure")
    assert erased.status_code == 200, erased.text
    assert erased.headers["location"] == f"/erasures/{ada}"
    receipt = erased.json()
    assert (receipt["customer_id"], receipt["key_destroyed"], receipt["claims_released"]) == (
        ada,
        True,
        1,
    )
    assert (await http.post(f"/customers/{ada}/erasure")).json() == receipt
    state = (await http.get(f"/erasures/{ada}")).json()
    assert state == {
        **receipt,
        "key_present": False,
        "claims_held": 0,
        "projections": None,
        "read_side": "unavailable",
    }
    problem(await http.post(f"/customers/{uuid4()}/erasure"), 404)
    problem(await http.get(f"/erasures/{uuid4()}"), 404)


async def test_what_an_erased_customer_is_refused_is_a_409_without_their_values(
    http: httpx.AsyncClient,
) -> None:
    ada = await customer(http)
    await http.post(f"/customers/{ada}/erasure")
    order = {
        "customer_id": ada,
        "items": [{"sku": "A", "name": "Widget", "quantity": 1, "unit_price": "1.00"}],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }
    for response in (
        await http.post(f"/customers/{ada}/rename", json={"name": "Bo Peep"}),
        await http.post(f"/customers/{ada}/change-email", json={"email": "bo@example.com"}),
        await http.post("/orders", json=order),  # refused by the store's guard
    ):
        assert problem(response, 409)["type"] == ERASED
        assert "Bo Peep" not in response.text and "bo@example.com" not in response.text
        assert "Main St" not in response.text


async def test_disclosure_is_not_stored_and_gone_once_erased(
    http: httpx.AsyncClient, personal: FakePersonalData
) -> None:
    ada = await customer(http)
    event_id = personal.event(UUID(ada), "CustomerRegistered", name="Ada", email="ada@example.com")
    opened = await http.get(f"/events/{event_id}/personal-data")
    assert opened.headers["cache-control"] == "no-store"
    assert opened.json()["fields"] == {"name": "Ada", "email": "ada@example.com"}
    problem(await http.get(f"/events/{uuid4()}/personal-data"), 404)
    await http.post(f"/customers/{ada}/erasure")
    gone = await http.get(f"/events/{event_id}/personal-data")
    assert problem(gone, 410)["type"] == ERASED
    assert gone.headers["cache-control"] == "no-store" and "ada@" not in gone.text


async def test_data_keys_are_not_stored_and_500_at_most(http: httpx.AsyncClient) -> None:
    ada, bob = await customer(http), await customer(http, "bob@example.com")
    await http.post(f"/customers/{bob}/erasure")
    nobody = str(uuid4())
    found = await http.post("/personal-data/keys", json={"customer_ids": [ada, bob, nobody]})
    assert found.headers["cache-control"] == "no-store"
    body = found.json()
    assert (list(body["keys"]), body["erased"], body["unknown"]) == ([ada], [bob], [nobody])
    too_many = {"customer_ids": [str(uuid4()) for _ in range(501)]}
    invalid = problem(await http.post("/personal-data/keys", json=too_many), 422)
    assert "input" not in invalid["errors"][0]
