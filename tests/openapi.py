"""Checking a service's answers against its own OpenAPI document (3.1: JSON Schema 2020-12)."""

from datetime import datetime
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

Doc = dict[str, Any]


def _date_time(value: object) -> bool:
    # jsonschema checks date-time only with an optional package; RFC 3339 needs a zone.
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


FORMATS = FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(_date_time)


def assert_documented(document: Doc, path: str, method: str, response: httpx.Response) -> None:
    """The answer's status is documented for the operation and its body fits the schema."""
    answers = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in answers, f"{method} {path}: {status} is not documented"
    content = answers[status].get("content")
    if not response.content:
        assert content is None, f"{method} {path}: {status} documents a body but has none"
        return
    media = response.headers["content-type"].split(";")[0]
    assert content is not None and media in content, f"{method} {path}: {media} not documented"
    schema = {**content[media]["schema"], "components": document["components"]}
    body = response.json() if media.endswith("json") else response.text
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{method} {path} {status} does not fit its schema: {errors[:5]}"
