"""The versions of each projection's documents in MongoDB: `<projection>_v<n>[_<role>]`."""

import logging

from pymongo.asynchronous.database import AsyncDatabase

from ..projections.base import Doc
from .collection_names import Collections
from .documents import MongoDocumentStore
from .mongo import unavailable_when_unreachable

log = logging.getLogger(__name__)


class MongoVersions:
    """Stores for one version of a projection, and the dropping of the others."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    def live(self, projection: str, version: int) -> MongoDocumentStore:
        return MongoDocumentStore(self._db, Collections(projection, version))

    def bulk(self, projection: str, version: int) -> MongoDocumentStore:
        return MongoDocumentStore(self._db, Collections(projection, version))

    async def drop_except(self, projection: str, keep: int) -> None:
        prefix = f"{projection}_v"
        with unavailable_when_unreachable():
            for name in await self._db.list_collection_names():
                version = name[len(prefix) :].split("_", 1)[0]
                if name.startswith(prefix) and version.isdigit() and int(version) != keep:
                    log.info("dropping %s", name)
                    await self._db.drop_collection(name)
