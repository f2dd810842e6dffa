"""A read service's MongoDB database seen directly: the projections' state, their versioned
collections, and how the documents of two read services compare."""

import re
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.read_side import PROJECTIONS, snapshot

Doc = dict[str, Any]
VERSIONED = re.compile(rf"^(?P<projection>{'|'.join(PROJECTIONS)})_v(?P<version>\d+)(_\w+)?$")


class ReadDatabase:
    """A read service's MongoDB database, seen directly."""

    def __init__(self, client: AsyncMongoClient[Doc], name: str) -> None:
        self.db: AsyncDatabase[Doc] = client[name]

    async def state(self, projection: str) -> Doc:
        doc = await self.db["projection_state"].find_one({"_id": projection})
        return doc or {}

    async def active(self, projection: str) -> int:
        return int((await self.state(projection)).get("active_version", 1))

    async def versions(self, projection: str) -> dict[str, int]:
        """Every collection of the projection, whatever its version: name -> version."""
        return {
            name: int(m["version"])
            for name in await self.db.list_collection_names()
            if (m := VERSIONED.match(name)) and m["projection"] == projection
        }

    async def documents(self, projection: str) -> dict[str, list[Doc]]:
        """The active version's collections by role ("main" or the aux name), minus `_rev`."""
        main = f"{projection}_v{await self.active(projection)}"
        found = await snapshot(self.db, only=re.compile(rf"{re.escape(main)}(_.*)?"))
        return {
            n.removeprefix(main).lstrip("_") or "main": docs for n, docs in found.items() if docs
        }

    async def dead_letters(self) -> int:
        return await self.db["dead_letters"].count_documents({})


def differences(left: dict[str, list[Doc]], right: dict[str, list[Doc]]) -> list[str]:
    found = []
    for role in sorted(left.keys() | right.keys()):
        a = {d["_id"]: d for d in left.get(role, [])}
        b = {d["_id"]: d for d in right.get(role, [])}
        if a.keys() != b.keys():
            found.append(f"{role}: only rebuilt {sorted(a.keys() - b.keys())[:5]},")
            found.append(f"{role}: only reference {sorted(b.keys() - a.keys())[:5]}")
        found += [
            f"{role}[{k}]:\n  {a[k]}\n  {b[k]}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]
        ]
    return found[:8]


async def assert_like_reference(
    rebuilt: ReadDatabase,
    reference: ReadDatabase,
    projections: tuple[str, ...],
    *,
    may_be_empty: tuple[str, ...] = (),
) -> None:
    """The projections' active documents are the reference's; each has some, but for those of
    `may_be_empty` (which the history written may not touch)."""
    assert await rebuilt.dead_letters() == 0
    assert await reference.dead_letters() == 0
    for projection in projections:
        mine, theirs = await rebuilt.documents(projection), await reference.documents(projection)
        assert mine.get("main") or projection in may_be_empty, f"{projection}: nothing rebuilt"
        diff = differences(mine, theirs)
        assert not diff, f"{projection} differs from the reference:\n" + "\n".join(diff)


async def assert_only_version(rebuilt: ReadDatabase, projection: str, version: int) -> None:
    """No collection of any other version of the projection is left."""
    found = await rebuilt.versions(projection)
    stray = sorted(name for name, v in found.items() if v != version)
    assert not stray, f"{projection}: collections of other versions remain: {stray}"
    assert f"{projection}_v{version}" in found
