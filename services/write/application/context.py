"""How a command runs and for whom: the context every handler gets from its entrypoint."""

import hashlib
from dataclasses import dataclass, field
from uuid import UUID

from shared.contracts.envelope import EventMetadata

# A longer subject is stored as its digest: the stored key stays far below what one entry of
# the primary key's B-tree may hold (about 2.7 kB).
MAX_SUBJECT_BYTES = 255


@dataclass(frozen=True)
class CommandContext:
    """Expected version, idempotency and tracing of a command, and who asks for it.

    `subject` is the caller's: its idempotency keys are its own. `customer_id` is set for a
    customer's token: that caller may act on the customer's own profile and orders only.
    """

    expected_version: int | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""
    metadata: EventMetadata = field(default_factory=EventMetadata)
    subject: str = ""
    customer_id: UUID | None = None

    @property
    def stored_key(self) -> str | None:
        """The Idempotency-Key in the caller's namespace: the same key (and body) from another
        caller is a new command, never a replay of someone else's answer."""
        if self.idempotency_key is None:
            return None
        return caller_key(self.subject, self.idempotency_key)

    def may_act_for(self, owner: UUID | None) -> bool:
        """Staff may act on anything; a customer on what is their own."""
        return self.customer_id is None or self.customer_id == owner


def caller_key(subject: str, key: str) -> str:
    """`<length>:<subject>:<key>`. The length makes the split unambiguous (subject `ab` with key
    `c` is not subject `a` with key `bc`); a subject over MAX_SUBJECT_BYTES stands as its
    SHA-256, which another subject could only match by a preimage."""
    if len(subject.encode()) > MAX_SUBJECT_BYTES:
        subject = "sha256:" + hashlib.sha256(subject.encode()).hexdigest()
    return f"{len(subject)}:{subject}:{key}"
