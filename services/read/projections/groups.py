"""Group documents that are rollups of member documents: a customer of its orders, a day of its
orders. Shared by the projections that keep such groups (customers, sales).

The rollups live in a memo (`Rollups`) that the caller keeps between batches, tagged with the
revision of the group document each was computed for.
"""

from collections.abc import Callable, Mapping

from . import base
from .base import Doc, Docs, Store, next_revision
from .rollup import Rollup, Rollups, Tally


def touched(docs: Docs, role: str, ids: set[str], group_field: str) -> list[Doc]:
    """The documents of `ids` the batch loaded or changed that belong to a group."""
    found = (docs.get(role, doc_id) for doc_id in ids)
    return [doc for doc in found if doc is not None and group_field in doc]


async def roll_up(
    store: Store,
    memo: Rollups,
    field: str,
    groups: Mapping[str, Doc],
    keys: set[str],
    members: list[Doc],
    contribution: Callable[[Doc], Tally],
) -> dict[str, tuple[Rollup, bool]]:
    """The rollup of each group in `keys` with the batch's members counted, and whether the
    group's document must be written even if its fields come out the same.

    The memo's rollup is used while the group document has the revision it was kept for; else
    the group is summed again from all its members. A rollup summed again, or whose counts
    moved, is always written (a product's name may hide a change in its counts): so one revision
    never stands for two different rollups, and other writers' memos of the group lapse.
    """
    taken = {key: memo.take(key, revision(groups.get(key))) for key in keys}
    stale = {key for key, rollup in taken.items() if rollup is None}
    rolled = {key: (rollup or Rollup(), key in stale) for key, rollup in taken.items()}
    for member in await store.find("orders", field, stale):
        rolled[member[field]][0].set(member["_id"], contribution(member))
    for member in members:
        rollup, moved = rolled[member[field]]
        moved = rollup.set(member["_id"], contribution(member)) or moved
        rolled[member[field]] = (rollup, moved)
    return rolled


def keep(
    memo: Rollups,
    groups: Mapping[str, tuple[Rollup, bool]],
    changed: Mapping[str, Doc],
    loaded: Mapping[str, Doc],
) -> None:
    """Once the group documents are written, keep their rollups with their new revisions."""
    for key, (rollup, _) in groups.items():
        before = loaded.get(key)
        if key in changed:  # as the store numbers it on save
            memo.keep(key, next_revision(before), rollup)
        elif before is not None:
            memo.keep(key, base.revision(before), rollup)


def revision(doc: Doc | None) -> int | None:
    """A group document's revision; None when there is no such document."""
    return None if doc is None else base.revision(doc)
