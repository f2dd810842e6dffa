"""Static checks of the Dockerfiles in deploy/docker: no dev-only dependency installed, COPY sources
that exist and are not excluded by .dockerignore, a final stage that is non-root with a health
check and an exposed port."""

from __future__ import annotations

import fnmatch
import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.check_common import rel

# Dev and test dependencies (the embedded stand-ins; SecantusDB is GPL-2.0) must never be installed
# in an image, nor any dependency group.
FORBIDDEN = re.compile(
    r"secantus|calfkit|embedded[-_]postgres|--(?:all-groups|group|only-group|only-dev)\b", re.I
)
ROOT_USERS = {"", "root", "0"}


@dataclass
class Stage:
    name: str
    base: str
    user: str | None = None
    healthcheck: bool | None = None
    expose: bool | None = None
    copied_from: set[str] = field(default_factory=set)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        word, _, args = (current + line).partition(" ")
        result.append((word.upper(), args.strip()))
        current = ""
    return result


def copy_args(args: str) -> tuple[list[str], list[str]]:
    """Flags and the remaining words of a COPY instruction (shell or JSON form)."""
    words = args.split()
    flags = [w for w in words if w.startswith("--")]
    rest = " ".join(w for w in words if not w.startswith("--"))
    return flags, json.loads(rest) if rest.startswith("[") else rest.split()


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for word, args in instructions(text):
        if word == "FROM":
            parts = [p for p in args.split() if not p.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else str(len(result))
            result.append(Stage(name=name, base=parts[0] if parts else ""))
        elif not result:
            continue
        elif word == "USER":
            result[-1].user = args.split(":")[0]
        elif word == "HEALTHCHECK":
            result[-1].healthcheck = args.upper() != "NONE"
        elif word == "EXPOSE":
            result[-1].expose = True
        elif word == "COPY":
            flags, _ = copy_args(args)
            result[-1].copied_from |= {f.split("=", 1)[1] for f in flags if f.startswith("--from=")}
    return result


def effective(stage: Stage, by_name: dict[str, Stage], attr: str) -> Any:
    """A stage's own setting, else the one inherited from the stage it is built FROM."""
    seen: set[str] = set()
    current: Stage | None = stage
    while current is not None and current.name not in seen:
        value = getattr(current, attr)
        if value is not None:
            return value
        seen.add(current.name)
        current = by_name.get(current.base)
    return None


def dockerignored(source: str, patterns: list[str]) -> bool:
    parts = Path(source.removeprefix("./")).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(c, pattern) for c in candidates):
            ignored = not negate
    return ignored


def check_dockerfile(path: Path, context: Path) -> list[str]:
    """Problems of one Dockerfile built with `context` (the repository root) as build context."""
    where = rel(path, context)
    text = path.read_text(encoding="utf-8")
    all_stages = stages(text)
    if not all_stages:
        return [f"{where}: no FROM instruction"]
    problems: list[str] = []
    ignore_file = context / ".dockerignore"
    ignore = ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.exists() else []
    ignore = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    for word, args in instructions(text):
        if FORBIDDEN.search(args):
            problems.append(f"{where}: {word} installs a dev/test dependency: {args[:80]}")
        uv_install = re.search(r"\buv (export|sync)\b", args)
        if word == "RUN" and uv_install and "--no-default-groups" not in args:
            problems.append(f"{where}: uv export/sync without --no-default-groups (adds 'dev')")
        if word == "COPY":
            flags, words = copy_args(args)
            if not any(f.startswith("--from=") for f in flags):
                problems += copy_problems(where, words[:-1], context, ignore)
    by_name = {s.name: s for s in all_stages}
    used = {s.base for s in all_stages} | {n for s in all_stages for n in s.copied_from}
    for stage in (s for s in all_stages if s.name not in used):
        label = f"{where} (stage {stage.name})"
        if (effective(stage, by_name, "user") or "") in ROOT_USERS:
            problems.append(f"{label}: runs as root (add a non-root USER)")
        if not effective(stage, by_name, "healthcheck"):
            problems.append(f"{label}: no HEALTHCHECK")
        if not effective(stage, by_name, "expose"):
            problems.append(f"{label}: no EXPOSE")
    return problems


def copy_problems(where: str, sources: list[str], context: Path, ignore: list[str]) -> list[str]:
    problems = []
    for source in (s for s in sources if not s.startswith("<<")):
        if not glob.glob(str(context / source)):
            problems.append(f"{where}: COPY source {source!r} does not exist")
        elif dockerignored(source, ignore):
            problems.append(f"{where}: COPY source {source!r} is excluded by .dockerignore")
    return problems
