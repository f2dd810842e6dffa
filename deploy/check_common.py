"""What every static check of deploy/ uses: loading files, digging into them, the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def load(path: Path) -> list[Any]:
    """Every document in a YAML (possibly multi-document) or JSON file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [json.loads(text)]
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def environment(service: Any) -> dict[str, str]:
    """A compose service's environment (mapping or list form) as a mapping."""
    env = dig(service, "environment") or {}
    if isinstance(env, list):
        env = dict(str(item).partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}
