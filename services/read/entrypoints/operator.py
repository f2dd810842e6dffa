"""An operator's actions over HTTP (ordering:operate), beside pause and resume: the dead letters
listed, read and applied again, and a projection's rebuild started, whose progress
GET /projections shows until the switch. The same as `make dead-letters` and
`make rebuild-projections`, for the console and for scripts."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from shared.plumbing.access import secured
from shared.plumbing.auth import OPERATE
from shared.plumbing.http import problem

from ..application.replays import AlreadyRebuilding, DeadLetterReplays, Rebuilds, Replayed
from . import ops_schemas, schemas
from .caching import unstored
from .deps import Operations, Operator

router = APIRouter(tags=["operations"])
ProjectionName = Annotated[ops_schemas.ProjectionName, Path()]
OnlyOf = Annotated[ops_schemas.ProjectionName | None, Query(description="one projection's only")]
LetterId = Annotated[str, Path(max_length=300, pattern=r"^[A-Za-z0-9_.:-]+$")]
OPERATED = secured(OPERATE, responses=schemas.responses(422, ok=schemas.NO_STORE))
FOUND = secured(OPERATE, responses=schemas.responses(404, 422, ok=schemas.NO_STORE))


def _replays(request: Request) -> DeadLetterReplays:
    replays: DeadLetterReplays = request.app.state.replays
    return replays


def _text(raw: Any) -> str | None:
    return None if raw is None else bytes(raw).decode("utf-8", "replace")


def shown(letter: dict[str, Any]) -> dict[str, Any]:
    """A dead letter as the API shows it: the raw record's bytes as text."""
    return {
        "id": str(letter["_id"]),
        "projection": letter["projection"],
        "topic": letter["topic"],
        "partition": letter["partition"],
        "offset": letter["offset"],
        "key": _text(letter.get("key")),
        "value": _text(letter.get("value")),
        "headers": {str(k): _text(v) or "" for k, v in letter.get("headers", [])},
        "timestamp_ms": letter.get("timestamp_ms", 0),
        "error": letter.get("error", ""),
        "failed_at": letter["failed_at"].isoformat(),
        "attempts": int(letter.get("attempts", 1)),
    }


def _outcome(replayed: Replayed) -> dict[str, Any]:
    return {
        "id": replayed.id,
        "projection": replayed.projection,
        "applied": replayed.applied,
        "error": replayed.error,
    }


@router.get("/dead-letters", response_model=ops_schemas.DeadLetters, **OPERATED)
async def dead_letters(
    caller: Operator,
    request: Request,
    projection: OnlyOf = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """The dead letters (of one projection), oldest first: each raw record, error, attempts."""
    found = await _replays(request).store.list(projection, limit=limit)
    return unstored({"dead_letters": [shown(letter) for letter in found]})


@router.get("/dead-letters/{letter_id}", response_model=ops_schemas.DeadLetter, **FOUND)
async def dead_letter(caller: Operator, request: Request, letter_id: LetterId) -> Response:
    """One dead letter."""
    letter = await _replays(request).store.get(letter_id)
    if letter is None:
        return problem(404, f"no dead letter {letter_id}", instance=request.url.path)
    return unstored(shown(letter))


@router.post("/dead-letters/{letter_id}/replay", response_model=ops_schemas.Replayed, **FOUND)
async def replay(caller: Operator, request: Request, letter_id: LetterId) -> Response:
    """Apply one dead letter again: removed when applied, kept with its new error otherwise."""
    replays = _replays(request)
    letter = await replays.store.get(letter_id)
    if letter is None:
        return problem(404, f"no dead letter {letter_id}", instance=request.url.path)
    return unstored(_outcome(await replays.replay(letter)))


@router.post("/dead-letters/replay", response_model=ops_schemas.ReplayedAll, **OPERATED)
async def replay_all(caller: Operator, request: Request, projection: OnlyOf = None) -> Response:
    """Apply every dead letter (of one projection) again, oldest first."""
    outcomes = await _replays(request).replay_all(projection)
    return unstored({"replayed": [_outcome(o) for o in outcomes]})


REBUILD = secured(OPERATE, responses=schemas.responses(409, 422, s409="a rebuild is running"))


@router.post(
    "/projections/{name}/rebuild",
    status_code=202,
    response_model=ops_schemas.ProjectionStatus,
    **REBUILD,
)
async def rebuild(
    caller: Operator, request: Request, name: ProjectionName, operations: Operations
) -> Response:
    """Start a blue/green rebuild of the projection in this process (202); GET /projections
    shows its phase and progress, and the active version serves until the switch."""
    rebuilds: Rebuilds = request.app.state.rebuilds
    try:
        await rebuilds.begin(name)
    except AlreadyRebuilding as exc:
        return problem(409, str(exc), instance=request.url.path)
    return unstored(await operations.status(name), status=202)
