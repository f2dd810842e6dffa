"""The operator's routes the console calls, without a browser: dead letters and rebuilds need
ordering:operate, an unknown letter is a 404, and a second rebuild while one runs is a 409."""

import httpx
import pytest

from tests.auth import bearer
from tests.e2e.console.conftest import Stack
from tests.polling import poll

pytestmark = pytest.mark.e2e


async def test_a_token_without_ordering_operate_is_refused(stack: Stack) -> None:
    viewer = stack.issuer.dev_token(scope="ordering:query", subject="viewer")
    async with httpx.AsyncClient(base_url=stack.read.url, headers=bearer(viewer)) as http:
        answers = [
            await http.get("/dead-letters"),
            await http.post("/dead-letters/replay"),
            await http.post("/projections/sales/rebuild"),
        ]
    assert [a.status_code for a in answers] == [403, 403, 403]


async def test_unknown_letters_are_404_and_a_running_rebuild_is_409(stack: Stack) -> None:
    async with stack.reader() as http:
        assert (await http.get("/dead-letters/customers:nothing:0:1")).status_code == 404
        assert (await http.post("/dead-letters/customers:nothing:0:1/replay")).status_code == 404
        assert (await http.get("/dead-letters", params={"projection": "nope"})).status_code == 422
        started = await http.post("/projections/sales/rebuild")
        assert started.status_code == 202, started.text
        again = await http.post("/projections/sales/rebuild")
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")

        async def finished() -> bool:
            found = (await http.get("/projections")).json()["projections"]
            rebuild = next(p for p in found if p["name"] == "sales")["rebuild"] or {}
            return rebuild.get("running") is False and rebuild.get("phase") == "done"

        await poll(finished, "the sales rebuild to finish", timeout=120)
