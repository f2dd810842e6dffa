"""The memory under the live cache and the rebuild's buffer: documents as their store holds
them, numbered as every store numbers them."""

import pytest

from services.read.application.buffer import BufferedStore, json_size
from services.read.application.ports import Conflict
from services.read.application.revisioned import ABSENT, RevisionedDocuments
from services.read.projections.base import revised
from tests.unit.read_fakes import FakeStore


def test_a_written_document_is_kept_with_the_revision_its_store_gives_it() -> None:
    memory = RevisionedDocuments()
    first = memory.keep_written("main", "a", {"_id": "a", "n": 1}, None)
    second = memory.keep_written("main", "a", {"_id": "a", "n": 2}, first)
    assert (first["_rev"], second["_rev"]) == (1, 2)
    assert memory.get("main", "a") == second == revised({"_id": "a", "n": 2}, first)


def test_a_save_over_a_revision_that_is_not_the_kept_one_is_a_conflict() -> None:
    memory = RevisionedDocuments()
    kept = memory.keep_written("main", "a", {"_id": "a"}, None)
    memory.check("main", "a", kept)
    with pytest.raises(Conflict):
        memory.check("main", "a", {"_id": "a", "_rev": 7})
    with pytest.raises(Conflict):
        memory.check("main", "a", None)  # loaded as absent, yet kept
    memory.put("main", "b", ABSENT)
    memory.check("main", "b", None)


def test_documents_are_weighed_and_the_least_recently_used_comes_first() -> None:
    memory = RevisionedDocuments(weigh=json_size)
    for doc_id in ("a", "b", "c"):
        memory.put("main", doc_id, {"_id": doc_id})
    memory.get("main", "a")
    assert memory.least_recent() == ("main", "b")
    assert memory.weight == 3 * json_size({"_id": "a"})
    memory.forget_everywhere(["b"])
    assert (memory.least_recent(), len(memory)) == (("main", "c"), 2)
    assert memory.weight == 2 * json_size({"_id": "a"})


async def test_the_buffer_writes_what_left_memory_and_reads_it_back_once_needed() -> None:
    inner = FakeStore()
    buffer = BufferedStore(inner, budget_bytes=60)
    for n in range(4):
        await buffer.save("main", {f"o{n}": {"_id": f"o{n}", "n": n}}, {})
    await buffer.write_changed()  # what left memory is written already, the rest now
    assert inner.role("main") == {f"o{n}": {"_id": f"o{n}", "n": n, "_rev": 1} for n in range(4)}
    loaded = await buffer.load("main", ["o0", "o3", "missing"])
    assert sorted(loaded) == ["o0", "o3"] and buffer.read_back >= 1
    with pytest.raises(Conflict):
        await buffer.save("main", {"o1": {"_id": "o1", "n": 9}}, {})  # exists, not loaded
    await buffer.save("main", {"o0": {"_id": "o0", "n": 10}}, loaded)
    await buffer.write_changed()
    assert inner.role("main")["o0"] == {"_id": "o0", "n": 10, "_rev": 2}
    assert buffer.documents == 4 and inner.saves == 0
