"""What a projection holds in MongoDB, read from outside: the documents of its active version.

A projection keeps version n of its documents in `<projection>_v<n>` (role `main`) and
`<projection>_v<n>_<role>` (auxiliary roles); `projection_state` names the active version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

STATE = "projection_state"


@dataclass(frozen=True)
class Held:
    """A projection's active version: documents per role, and a digest of their ids."""

    version: int
    documents: dict[str, int]
    ids_digest: str

    @property
    def total(self) -> int:
        return sum(self.documents.values())


def version_roles(names: Iterable[str], projection: str, version: int) -> dict[str, str]:
    """Collection name -> role, for the collections of one version of a projection."""
    main, found = f"{projection}_v{version}", list(names)
    roles = {name: name[len(main) + 1 :] for name in found if name.startswith(main + "_")}
    return {**({main: "main"} if main in found else {}), **roles}


def digest(ids_by_role: dict[str, list[str]]) -> str:
    """One digest of the ids of every role, whatever order they were read in."""
    hashed = hashlib.sha256()
    for role in sorted(ids_by_role):
        hashed.update(role.encode() + b"\0")
        for doc_id in sorted(ids_by_role[role]):
            hashed.update(doc_id.encode() + b"\0")
    return hashed.hexdigest()[:16]


async def held(mongo: Any, database: str, projection: str) -> Held:
    """The active version's documents of `projection` in `database` (`mongo` is a client)."""
    db = mongo[database]
    state = await db[STATE].find_one({"_id": projection}) or {}
    version = int(state.get("active_version", 1))
    roles = version_roles(await db.list_collection_names(), projection, version)
    ids: dict[str, list[str]] = {}
    for name, role in roles.items():
        ids[role] = [str(doc["_id"]) async for doc in db[name].find({}, {"_id": 1})]
    return Held(version, {role: len(found) for role, found in ids.items()}, digest(ids))
