"""The write service's personal-data keys for the local stack and the test and bench starters:
random per run, or made once into the stack's state folder (mode 0600) and kept across runs,
since data sealed under a lost key-encryption key can never be read again."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

PII_KEY_NAMES = ("PII_KEK", "PII_INDEX_KEY")


def new_pii_keys() -> dict[str, str]:
    """PII_KEK and PII_INDEX_KEY, each base64 of 32 random bytes."""
    return {name: base64.b64encode(os.urandom(32)).decode() for name in PII_KEY_NAMES}


def stack_pii_keys(path: Path) -> dict[str, str]:
    """The keys kept in `path`, made (readable by the owner only) when it does not exist."""
    if path.exists():
        kept = json.loads(path.read_text())
        if all(kept.get(name) for name in PII_KEY_NAMES):
            return {name: str(kept[name]) for name in PII_KEY_NAMES}
        raise SystemExit(f"{path} lacks {PII_KEY_NAMES}: restore it (data sealed under it)")
    keys = new_pii_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(keys, out, indent=2)
    return keys
