"""The dev stack's personal-data keys: made once, owner-only, the same on every run after."""

import base64
import stat
from pathlib import Path

from deploy.local.keys import PII_KEY_NAMES, new_pii_keys, stack_pii_keys


def test_keys_are_base64_of_32_random_bytes() -> None:
    first, second = new_pii_keys(), new_pii_keys()
    assert set(first) == set(PII_KEY_NAMES)
    assert all(len(base64.b64decode(value, validate=True)) == 32 for value in first.values())
    assert first != second


def test_the_stack_makes_its_keys_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pii-keys.json"
    made = stack_pii_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stack_pii_keys(path) == made  # the next `make run` seals and opens with the same
