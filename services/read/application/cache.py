"""The live cache: documents kept in memory from one batch to the next (revisioned.py, the same
memory the rebuild's buffer is made of), so that a consumer reads a document from MongoDB once
rather than once per batch.

What is kept is only ever what MongoDB held when it was last read or written by this consumer,
with its `_rev`. Writes still go through the store's revision guard: a kept copy that another
writer has since changed (another replica, the consumer that owned the partition before a
rebalance, a rebuild's switch) fails its write with a conflict, is forgotten, and the batch is
folded again from what MongoDB holds. A write that fails in any other way also forgets what it
was writing, since it may or may not have landed.

A document can also be read without being written: order_details reads a customer's copy to
denormalize an order. No guard would catch a stale copy there, so only the documents of the
streams this consumer owns are kept (their events come to it, and nobody else folds them):
`owned` holds those streams, and is emptied with the rest when the consumer's partitions change.
Other documents (a day of sales, a customer whose orders come here but whose own events go to
another consumer) are read from MongoDB each batch.
"""

from collections.abc import Iterable, Mapping

from ..projections.base import Doc, Indexes
from .ports import Conflict, DocumentStore
from .revisioned import ABSENT, RevisionedDocuments


class DocumentCache(RevisionedDocuments):
    """The documents of one version of one projection, at most `budget` of them, least
    recently used first out."""

    def __init__(self, budget: int, placeholder_roles: Iterable[str] = ()) -> None:
        super().__init__()
        self.budget = budget
        # Roles where other streams may create a stream's document first: `beginning` says
        # nothing there.
        self.placeholder_roles = frozenset(placeholder_roles)
        self.owned: set[str] = set()  # ids of the streams whose events come to this consumer
        # Streams whose first event is in the batch being applied: their documents cannot exist
        # yet unless that event was applied before (a re-delivery), and then their insert fails
        # on the duplicate id: a conflict, and the batch is folded again, those documents read
        # from MongoDB.
        self.beginning: set[str] = set()

    def put(self, role: str, doc_id: str, doc: Doc) -> None:
        super().put(role, doc_id, doc)
        while len(self) > self.budget:
            oldest = self.least_recent()
            if oldest is None:
                break
            self.pop(oldest)

    def clear(self) -> None:
        super().clear()
        self.owned.clear()


class CachedStore:
    """A `DocumentStore` that answers loads from a `DocumentCache` when it can.

    Documents handed out are never changed by the projections (folding works on copies), so the
    kept ones are handed out as they are.
    """

    def __init__(self, inner: DocumentStore, cache: DocumentCache) -> None:
        self.inner = inner
        self.cache = cache

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        found: dict[str, Doc] = {}
        unknown: list[str] = []
        for doc_id in set(ids):
            kept = self.cache.get(role, doc_id)
            if (
                kept is None
                and doc_id in self.cache.beginning
                and role not in self.cache.placeholder_roles
            ):
                self.cache.put(role, doc_id, ABSENT)
            elif kept is None:
                unknown.append(doc_id)
            elif kept is not ABSENT:
                found[doc_id] = kept
        if unknown:
            loaded = await self.inner.load(role, unknown)
            for doc_id in unknown:
                if doc_id in self.cache.owned:
                    self.cache.put(role, doc_id, loaded.get(doc_id, ABSENT))
            found.update(loaded)
        return found

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        """Always MongoDB's answer (only it knows every match); what it finds of the streams
        this consumer owns is kept."""
        docs = await self.inner.find(role, field, values)
        for doc in docs:
            if doc["_id"] in self.cache.owned:
                self.cache.put(role, doc["_id"], doc)
        return docs

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        try:
            await self.inner.save(role, changed, loaded)
        except Conflict as exc:
            if not exc.ids:  # which ones landed is not known: ask MongoDB about all of them
                self.cache.forget(role, changed)
                raise
            # These lost to another writer, and whatever was assumed of their streams in other
            # roles goes too; the rest landed.
            self.cache.forget_everywhere(exc.ids)
            self._keep(role, {i: d for i, d in changed.items() if i not in exc.ids}, loaded)
            raise
        except BaseException:
            self.cache.forget(role, changed)  # written or not, or by whom: ask MongoDB next time
            raise
        self._keep(role, changed, loaded)

    def _keep(self, role: str, written: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        for doc_id, doc in written.items():
            if doc_id in self.cache.owned:
                self.cache.keep_written(role, doc_id, doc, loaded.get(doc_id))

    async def ensure_indexes(self, indexes: Indexes) -> None:
        await self.inner.ensure_indexes(indexes)
