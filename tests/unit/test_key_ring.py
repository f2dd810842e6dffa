"""The key ring over the write service's `POST /personal-data/keys` (answered here by a stand-in
of its route): one request for many customers, keys kept in memory for a bounded time and
number, erased customers kept as such, and every failure the application's Unavailable, with
nothing of a key in it."""

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.read.adapters.key_ring import MAX_IDS, HttpKeyRing, KeyRingUnavailable
from services.read.adapters.tokens import ClientCredentials
from services.read.application.ports import Unavailable
from shared.contracts.personal import new_data_key, open_value, seal_value

Answer = Callable[[list[str]], httpx.Response]


class KeysRoute:
    """The write service's answers: a key per live customer, the erased ones listed."""

    def __init__(self) -> None:
        self.live: dict[str, bytes] = {}
        self.erased: set[str] = set()
        self.asked: list[list[str]] = []
        self.headers: list[httpx.Headers] = []
        self.answer: Answer | None = None

    def customer(self) -> str:
        customer_id = str(uuid.uuid4())
        self.live[customer_id] = new_data_key()
        return customer_id

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/personal-data/keys")
        ids = orjson.loads(request.content)["customer_ids"]
        assert len(ids) <= MAX_IDS
        self.asked.append(ids)
        self.headers.append(request.headers)
        if self.answer is not None:
            return self.answer(ids)
        body = {
            "keys": {c: base64.b64encode(self.live[c]).decode() for c in ids if c in self.live},
            "erased": [c for c in ids if c in self.erased],
            "unknown": [c for c in ids if c not in self.live and c not in self.erased],
        }
        return httpx.Response(200, json=body, headers={"Cache-Control": "no-store"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ring(route: KeysRoute, **options: Any) -> HttpKeyRing:
    return HttpKeyRing("http://write", transport=httpx.MockTransport(route), **options)


def opens(cipher: Any, key: bytes) -> bool:
    """The cipher is the one of this key: what it seals, the key opens."""
    return open_value(AESGCM(key), seal_value(cipher, "Ada", b"aad"), b"aad") == "Ada"


async def test_one_request_gives_the_keys_of_many_customers_and_they_are_kept() -> None:
    route = KeysRoute()
    live = [route.customer() for _ in range(3)]
    gone, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    route.erased.add(gone)
    keys = ring(route)
    found = await keys.keys([*live, gone, unknown])
    assert len(route.asked) == 1 and sorted(route.asked[0]) == sorted([*live, gone, unknown])
    assert all(opens(found[c], route.live[c]) for c in live)
    assert found[gone] is None and found[unknown] is None
    again = await keys.keys([*live, gone])
    assert len(route.asked) == 1 and again.keys() == {*live, gone}
    await keys.keys([unknown])  # a key may be made for it on first need: asked again
    assert route.asked[1:] == [[unknown]]
    await keys.close()


async def test_kept_keys_expire_leave_when_too_many_and_are_forgotten_on_demand() -> None:
    route, clock = KeysRoute(), Clock()
    a, b, c = (route.customer() for _ in range(3))
    keys = ring(route, ttl=300, size=2, clock=clock)
    await keys.keys([a, b])
    clock.now += 299
    await keys.keys([a, b])
    assert len(route.asked) == 1
    clock.now += 2
    await keys.keys([a])
    assert route.asked[-1] == [a]
    await keys.keys([c])  # three kept would be too many: b, the least recently used, leaves
    await keys.keys([a, c])
    assert len(route.asked) == 3
    await keys.keys([b])
    assert route.asked[-1] == [b]
    keys.forget(b)
    await keys.keys([b])
    assert route.asked[-1] == [b]
    await keys.close()


async def test_nothing_is_kept_with_a_cache_of_no_time() -> None:
    route = KeysRoute()
    customer = route.customer()
    keys = ring(route, ttl=0)
    await keys.keys([customer])
    await keys.keys([customer])
    assert len(route.asked) == 2
    await keys.close()


async def test_many_customers_are_asked_for_in_requests_of_at_most_the_limit() -> None:
    route = KeysRoute()
    customers = [route.customer() for _ in range(MAX_IDS + 20)]
    keys = ring(route)
    found = await keys.keys(customers)
    assert [len(ids) for ids in route.asked] == [MAX_IDS, 20]
    assert all(found[c] is not None for c in customers)
    await keys.close()


async def test_ids_are_matched_whatever_their_textual_form() -> None:
    route = KeysRoute()
    customer = route.customer()
    keys = ring(route)
    found = await keys.keys([customer.upper()])
    assert opens(found[customer.upper()], route.live[customer])
    await keys.close()


def failing(status: int, content: bytes) -> Answer:
    return lambda ids: httpx.Response(status, content=content)


@pytest.mark.parametrize(
    "answer",
    [
        failing(403, b'{"title": "Forbidden"}'),
        failing(503, b""),
        failing(200, b"not json"),
        failing(200, b"[]"),
        failing(200, b'{"keys": {}}'),
        lambda ids: httpx.Response(200, json={"keys": {ids[0]: "c2hvcnQ="}, "erased": []}),
        lambda ids: httpx.Response(200, json={"keys": {ids[0]: "not base64!"}, "erased": []}),
        lambda ids: httpx.Response(200, json={"keys": {str(uuid.uuid4()): "x"}, "erased": []}),
    ],
)
async def test_a_failure_of_the_write_service_is_unavailable_and_names_no_value(
    answer: Answer,
) -> None:
    route = KeysRoute()
    route.answer = answer
    keys = ring(route)
    with pytest.raises(KeyRingUnavailable) as failed:
        await keys.keys([route.customer()])
    assert isinstance(failed.value, Unavailable)
    assert "c2hvcnQ" not in str(failed.value) and "base64" not in str(failed.value)
    await keys.close()


async def test_an_unreachable_write_service_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    keys = HttpKeyRing("http://write", transport=httpx.MockTransport(refuse))
    with pytest.raises(KeyRingUnavailable, match="unreachable"):
        await keys.keys([str(uuid.uuid4())])
    await keys.close()


async def test_the_keys_are_asked_for_with_a_token_of_scope_ordering_keys() -> None:
    route, forms = KeysRoute(), []

    def issuer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"token_endpoint": "http://issuer/token"})
        forms.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200, json={"access_token": "t-keys", "expires_in": 300})

    http = httpx.AsyncClient(transport=httpx.MockTransport(issuer))
    tokens = ClientCredentials(
        "http://issuer", "read-service", "s", scope="ordering:keys", http=http
    )
    keys = ring(route, tokens=tokens)
    await keys.keys([route.customer()])
    assert forms == [{"grant_type": "client_credentials", "scope": "ordering:keys"}]
    assert route.headers[0]["authorization"] == "Bearer t-keys"
    await keys.close()
    await http.aclose()
