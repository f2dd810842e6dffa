"""The read side's view of an erasure, as the write service asks for it: over HTTP with the
caller's own token, and unavailable rather than failing when it cannot be had."""

from uuid import uuid4

import httpx

from services.write.adapters.read_side import ReadSideErasures

ANSWER = {"projections": {"customers": {"caught_up": True}, "order_details": {"caught_up": False}}}


def read_side(handler: httpx.MockTransport) -> ReadSideErasures:
    return ReadSideErasures("http://read.test/", http=httpx.AsyncClient(transport=handler))


async def test_each_projection_is_asked_with_the_callers_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    customer = uuid4()
    found = await read_side(httpx.MockTransport(answer)).projections(
        customer, credentials="Bearer caller"
    )
    assert found == {"customers": True, "order_details": False}
    assert [str(r.url) for r in seen] == [f"http://read.test/erasures/{customer}"]
    assert seen[0].headers["authorization"] == "Bearer caller"


async def test_a_read_side_unset_down_refusing_or_unclear_is_unavailable() -> None:
    assert await ReadSideErasures("").projections(uuid4(), credentials=None) is None

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    answers = [
        down,
        lambda request: httpx.Response(403, json={"status": 403}),
        lambda request: httpx.Response(200, content=b"not json"),
        lambda request: httpx.Response(200, json={"projections": {"customers": {}}}),
        lambda request: httpx.Response(200, json=[1, 2]),
    ]
    for handler in answers:
        adapter = read_side(httpx.MockTransport(handler))
        assert await adapter.projections(uuid4(), credentials="Bearer x") is None
        await adapter.close()
