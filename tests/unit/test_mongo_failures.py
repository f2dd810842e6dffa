"""MongoDB's failures reach the read side's application in its own terms only."""

import pytest
from pymongo.errors import AutoReconnect, BulkWriteError, NetworkTimeout, OperationFailure

from services.read.adapters.documents import DUPLICATE_KEY, MongoDocumentStore
from services.read.adapters.mongo import unavailable_when_unreachable
from services.read.application.ports import Conflict, Refused, Unavailable


@pytest.mark.parametrize("failure", [AutoReconnect("gone"), NetworkTimeout("slow")])
def test_a_server_out_of_reach_is_unavailable(failure: Exception) -> None:
    with pytest.raises(Unavailable), unavailable_when_unreachable():
        raise failure


def test_a_refusal_of_the_server_is_refused_not_the_driver_s_error() -> None:
    with pytest.raises(Refused) as refused, unavailable_when_unreachable():
        raise OperationFailure("document too large", code=10334)
    assert "document too large" in str(refused.value)
    assert isinstance(refused.value.__cause__, OperationFailure)


def bulk_failure(codes: list[int], landed: int) -> BulkWriteError:
    errors = [{"index": i, "code": code, "errmsg": "x"} for i, code in enumerate(codes)]
    return BulkWriteError({"writeErrors": errors, "nInserted": landed, "nMatched": 0})


def test_inserts_of_existing_documents_are_a_conflict_naming_them() -> None:
    conflict = MongoDocumentStore._conflict(
        "main", bulk_failure([DUPLICATE_KEY], 2), ["a", "b", "c"]
    )
    assert isinstance(conflict, Conflict) and conflict.ids == {"a"}
    unknown = MongoDocumentStore._conflict("main", bulk_failure([DUPLICATE_KEY], 0), ["a", "b"])
    assert isinstance(unknown, Conflict) and unknown.ids == frozenset()


def test_any_other_bulk_failure_is_no_conflict() -> None:
    assert MongoDocumentStore._conflict("main", bulk_failure([2], 0), ["a"]) is None
