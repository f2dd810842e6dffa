"""Documents in memory as their store holds them, each with its `_rev`: what both the live cache
(cache.py) and the rebuild's buffer (buffer.py) are made of.

A document kept here is what the store held when this process last read or wrote it; writing
it keeps the new version with the revision the store gives it (`keep_written`), and a save whose
loaded revision is not the kept one lost to another write (`check`). Documents are kept least
recently used first, each with a weight (1, or its size), so that their owner can let the
least recent go when their total outgrows its budget.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

from ..projections.base import Doc, revised, revision
from .ports import Conflict

Key = tuple[str, str]  # (role, document id)
ABSENT: Doc = {}  # known not to exist in the store (kept like a document, never handed out)


def one(doc: Doc) -> int:
    return 1


class RevisionedDocuments:
    """Documents by role and id, least recently used first, with their total weight."""

    def __init__(self, weigh: Callable[[Doc], int] = one) -> None:
        self.weigh = weigh
        self.weight = 0
        self._docs: OrderedDict[Key, Doc] = OrderedDict()
        self._weights: dict[Key, int] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def get(self, role: str, doc_id: str) -> Doc | None:
        """The kept document (or ABSENT), now the most recently used; None when not kept."""
        doc = self._docs.get((role, doc_id))
        if doc is not None:
            self._docs.move_to_end((role, doc_id))
        return doc

    def peek(self, role: str, doc_id: str) -> Doc | None:
        """The kept document (or ABSENT), leaving the order of use as it is."""
        return self._docs.get((role, doc_id))

    def put(self, role: str, doc_id: str, doc: Doc) -> None:
        """Keep a document as the store holds it, as the most recently used."""
        key = (role, doc_id)
        weight = self.weigh(doc)
        self.weight += weight - self._weights.get(key, 0)
        self._docs[key] = doc
        self._weights[key] = weight
        self._docs.move_to_end(key)

    def keep_written(self, role: str, doc_id: str, doc: Doc, loaded: Doc | None) -> Doc:
        """Keep `doc` as the store holds it once written over `loaded`, and return it."""
        written = revised(doc, loaded)
        self.put(role, doc_id, written)
        return written

    def check(self, role: str, doc_id: str, loaded: Doc | None) -> None:
        """Conflict unless the kept copy (if any) has the revision `doc_id` was loaded with."""
        kept = self._docs.get((role, doc_id))
        if kept is not None and kept is not ABSENT and revision(kept) != revision(loaded):
            raise Conflict(f"{role}: {doc_id} changed since it was loaded")

    def pop(self, key: Key) -> Doc | None:
        """Let one document go."""
        self.weight -= self._weights.pop(key, 0)
        return self._docs.pop(key, None)

    def forget(self, role: str, doc_ids: Iterable[str]) -> None:
        for doc_id in doc_ids:
            self.pop((role, doc_id))

    def forget_everywhere(self, doc_ids: Iterable[str]) -> None:
        """Forget these documents in every role (a stream's documents share its id)."""
        gone = set(doc_ids)
        for key in [key for key in self._docs if key[1] in gone]:
            self.pop(key)

    def clear(self) -> None:
        self._docs.clear()
        self._weights.clear()
        self.weight = 0

    def least_recent(self) -> Key | None:
        return next(iter(self._docs), None)

    def refresh(self, key: Key) -> None:
        """Make a kept document the most recently used without handing it out."""
        self._docs.move_to_end(key)

    def weight_of(self, key: Key) -> int:
        return self._weights.get(key, 0)

    def of_role(self, role: str) -> Iterator[tuple[str, Doc]]:
        """The kept documents of one role, by id (not ABSENT ones)."""
        for (kept_role, doc_id), doc in self._docs.items():
            if kept_role == role and doc is not ABSENT:
                yield doc_id, doc
