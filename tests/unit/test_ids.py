"""Request ids in text: version 4 UUIDs in canonical form, each new."""

import uuid

from shared.plumbing.ids import uuid4_text


def test_each_id_is_a_new_version_4_uuid_in_canonical_form() -> None:
    made = [uuid4_text() for _ in range(2000)]
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
    assert len(set(made)) == len(made)
    assert {text[19] for text in made} == set("89ab")  # every variant digit turns up
