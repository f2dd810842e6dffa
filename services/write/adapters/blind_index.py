"""Keyed digests under PII_INDEX_KEY: the blind index of emails and the idempotency fingerprints.

A bare hash of an email (or of a request body holding one) can be tested against guesses; an
HMAC under a key the database never sees cannot.
"""

import hashlib
import hmac

from ..domain.customer import normalize_email


class BlindIndex:
    """HMAC-SHA-256 under the index key, as hex."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def email(self, email: str) -> str:
        """What `customer_emails` holds for an email: never the email itself."""
        return self.digest(normalize_email(email).encode())

    def digest(self, *parts: bytes) -> str:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest()
