"""Fixtures shared by every test tier: the servers (see tests/backends.py) and the token
issuer (tests/auth.py)."""

from tests.auth import issuer
from tests.backends import (
    backends,
    kafka,
    mongo,
    pg_database,
    postgres,
    revive_stopped_servers,
)

__all__ = [
    "backends",
    "issuer",
    "kafka",
    "mongo",
    "pg_database",
    "postgres",
    "revive_stopped_servers",
]
