"""Running totals over the members of a group (a day's orders, a customer's orders), no I/O.

A member's contribution is a tally: exact amounts (ints and Decimals) by key. A rollup keeps the
contribution it last counted for each member, so giving a member a new contribution subtracts the
old one and adds the new: the totals follow the members without summing all of them again.

`Rollups` keeps the rollups of many groups from one batch to the next, each tagged with the
revision (`_rev`) of the group document it was written to or read with, within a budget: the least
recently used groups go first, and come back by being summed again from their members.
"""

from collections import OrderedDict
from decimal import Decimal

Key = tuple[str, ...]
Amount = int | Decimal
Tally = dict[Key, Amount]


def add(tally: Tally, key: Key, amount: Amount) -> None:
    """Add to one amount of a tally; amounts that come to zero are dropped."""
    total = tally.get(key, 0) + amount
    if total:
        tally[key] = total
    else:
        tally.pop(key, None)


class Rollup:
    """The totals of one group, and each member's contribution to them."""

    def __init__(self) -> None:
        self.members: dict[str, Tally] = {}
        self.totals: Tally = {}

    def set(self, member: str, contribution: Tally) -> bool:
        """Count `contribution` for `member` instead of its previous one; False if unchanged."""
        old = self.members.get(member)
        if old == contribution:
            return False
        self._count(old or {}, -1)
        self._count(contribution, 1)
        self.members[member] = dict(contribution)
        return True

    def total(self, key: Key) -> Amount:
        return self.totals.get(key, 0)

    def _count(self, contribution: Tally, sign: int) -> None:
        for key, amount in contribution.items():
            add(self.totals, key, sign * amount)


class Rollups:
    """Rollups by group, each valid for one revision of its group document.

    A batch takes the rollups of the groups it touches out, and keeps them again with the new
    revisions once its documents are written: a batch that fails leaves none behind.
    """

    def __init__(self, budget: int = 200_000) -> None:
        self.budget = budget  # groups plus members, summed over the groups kept
        self._groups: OrderedDict[str, tuple[int, Rollup, int]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, group: object) -> bool:
        return group in self._groups

    def take(self, group: str, rev: int | None) -> Rollup | None:
        """The group's rollup, out of the memo, if it was kept for revision `rev`."""
        entry = self._groups.pop(group, None)
        if entry is None:
            return None
        kept_rev, rollup, weight = entry
        self._size -= weight
        return rollup if rev is not None and kept_rev == rev else None

    def keep(self, group: str, rev: int, rollup: Rollup) -> None:
        """Keep the rollup of a group whose document is now at revision `rev`."""
        self.take(group, None)
        weight = 1 + len(rollup.members)
        self._groups[group] = (rev, rollup, weight)
        self._size += weight
        while self._size > self.budget:
            _, (_, _, dropped) = self._groups.popitem(last=False)
            self._size -= dropped
