"""The read side's clients, as the service and every operator command open them: MongoDB, the
write API with the service's own token, and the customers' data keys."""

import logging
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .adapters.key_ring import HttpKeyRing
from .adapters.tokens import ClientCredentials
from .adapters.write_api import WriteApi
from .settings import ReadSettings

log = logging.getLogger(__name__)


@dataclass
class Connections:
    """The read side's clients, one of each: MongoDB, the write API with the service's own
    token, and the customers' keys (with a token of their own, asking for `ordering:keys`).
    The service and every operator command (services/read/cli.py) build them here."""

    client: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    tokens: ClientCredentials | None
    write_api: WriteApi
    keys: HttpKeyRing
    key_tokens: ClientCredentials | None = None

    async def close(self) -> None:
        await self.write_api.close()
        await self.keys.close()
        for tokens in (self.tokens, self.key_tokens):
            if tokens is not None:
                await tokens.aclose()
        await self.client.close()


def client_credentials(
    settings: ReadSettings, scope: str | None = None
) -> ClientCredentials | None:
    """The service's own token client (AUTH_CLIENT_ID), asking for `scope` (by default
    AUTH_CLIENT_SCOPE); None with AUTH_DISABLED: no token."""
    if settings.auth_disabled:
        return None
    if not (settings.auth_issuer and settings.auth_client_id):
        log.warning("no AUTH_ISSUER or AUTH_CLIENT_ID: calls to the write service carry no token")
        return None
    return ClientCredentials(
        settings.auth_issuer,
        settings.auth_client_id,
        settings.auth_client_secret.get_secret_value(),
        audience=settings.auth_audience,
        scope=settings.auth_client_scope if scope is None else scope,
    )


def connect(settings: ReadSettings) -> Connections:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    tokens = client_credentials(settings)
    write_api = WriteApi(settings.write_service_url, tokens=tokens)
    key_tokens = client_credentials(settings, settings.auth_keys_scope)
    keys = HttpKeyRing(
        settings.write_service_url,
        tokens=key_tokens,
        ttl=settings.pii_key_cache_seconds,
        size=settings.pii_key_cache_size,
    )
    db = client[settings.mongodb_database]
    return Connections(client, db, tokens, write_api, keys, key_tokens)
