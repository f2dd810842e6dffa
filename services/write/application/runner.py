"""How every command runs: load the aggregate, let it decide, append what it recorded; re-run
on a lost race, replay an idempotent retry."""

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from shared.contracts.events import stock_stream_id

from ..domain.aggregate import Aggregate
from ..domain.errors import ConcurrencyError, DomainError, NotFound, VersionMismatch
from .context import CommandContext
from .locks import KeyedLocks
from .ports import (
    EmailClaim,
    ErasureRequest,
    EventStore,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    TrackingChanged,
)
from .tracking import TrackedSkus

A = TypeVar("A", bound=Aggregate)


class IdempotencyMismatch(Exception):
    """The idempotency key was first used with another request (422)."""


@dataclass(frozen=True)
class CommandResult:
    stream_id: UUID
    version: int
    position: int
    created: bool
    replayed: bool = False


@dataclass(frozen=True)
class Decided:
    """What a decision needs appended with its events: an email claim, the SKUs it took as
    untracked (the append fails with TrackingChanged if one of them is tracked by then), and
    the erasure a CustomerErased event carries out in the same transaction."""

    email: EmailClaim | None = None
    untracked: Sequence[str] = ()
    erasure: ErasureRequest | None = None


Decide = Callable[[A], Decided | None]


class CommandRunner:
    """Runs commands; losing a race re-runs the command, unless a version was given.

    A customer's command on another customer's profile or order fails as if it did not exist
    (NotFound, checked before anything else can tell): object-level authorization."""

    def __init__(
        self, store: EventStore, *, max_attempts: int = 10, cache_size: int = 10_000
    ) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._locks = KeyedLocks()
        # Aggregates as of their last successful command here; taken out while a command runs,
        # so a failed decision never leaves a half-changed aggregate behind.
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._cache_size = cache_size
        self._tracked = TrackedSkus(limit=10 * cache_size)

    async def _replay(self, ctx: CommandContext) -> CommandResult | None:
        if ctx.stored_key is None:
            return None
        stored = await self._store.find_response(ctx.stored_key)
        if stored is None:
            return None
        if stored.fingerprint != ctx.fingerprint:
            raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
        return CommandResult(
            stream_id=stored.stream_id,
            version=stored.version,
            position=stored.position,
            created=stored.created,
            replayed=True,
        )

    async def _execute(
        self,
        kind: type[A],
        stream_id: UUID,
        decide: Decide[A],
        ctx: CommandContext,
        *,
        create: bool = False,
        new: Callable[[], A] | None = None,
    ) -> CommandResult:
        """Run `decide` on the stream's aggregate. `create`: the stream id was just drawn;
        `new`: what the aggregate is when its stream does not exist yet (else NotFound)."""
        replay = await self._replay(ctx)
        if replay is not None:
            return replay
        if create:  # a stream id just drawn: no other command can name it yet
            return await self._attempts(kind, stream_id, decide, ctx, create=True, new=None)
        async with self._locks.hold(stream_id):
            return await self._attempts(kind, stream_id, decide, ctx, create=False, new=new)

    async def _attempts(
        self,
        kind: type[A],
        stream_id: UUID,
        decide: Decide[A],
        ctx: CommandContext,
        *,
        create: bool,
        new: Callable[[], A] | None,
    ) -> CommandResult:
        # A cached aggregate is used without reading the store; anything that could be caused
        # by it being behind (a refusal, a lost race, an expected version) re-reads instead.
        trust = ctx.expected_version is None
        for attempt in range(self._max_attempts):
            aggregate, trusted = await self._checked(kind, stream_id, ctx, create, new, trust)
            expected = aggregate.version
            try:
                decided = decide(aggregate) or Decided()
            except (DomainError, NotFound):
                if not trusted:
                    raise
                trust = False
                continue
            created = expected == 0
            idem = None
            if ctx.stored_key is not None:
                idem = IdempotencyRecord(ctx.stored_key, ctx.fingerprint, created=created)
            try:
                result = await self._store.append(
                    stream_type=kind.stream_type,
                    stream_id=stream_id,
                    expected_version=expected,
                    events=aggregate.pending,
                    metadata=ctx.metadata,
                    email=decided.email,
                    idempotency=idem,
                    untracked=[stock_stream_id(sku) for sku in decided.untracked],
                    erasure=decided.erasure,
                )
            except ConcurrencyError:
                trust = False
                if ctx.expected_version is not None:
                    raise VersionMismatch(ctx.expected_version, expected + 1) from None
                # Another replica won the race: back off a little, then decide again.
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            except TrackingChanged:
                # A SKU taken as untracked has a stock item now: learn which, decide again.
                self._tracked.learn(await self._store.tracked_skus(decided.untracked))
                continue
            except IdempotencyKeyTaken:
                replay = await self._replay(ctx)
                if replay is None:
                    raise
                return replay
            self._remember(aggregate)
            return CommandResult(stream_id, result.version, result.position, created=created)
        raise ConcurrencyError(
            f"stream {stream_id} kept moving: gave up after {self._max_attempts} attempts"
        )

    async def _checked(
        self,
        kind: type[A],
        stream_id: UUID,
        ctx: CommandContext,
        create: bool,
        new: Callable[[], A] | None,
        trust: bool,
    ) -> tuple[A, bool]:
        """The aggregate to decide on (see `_load`), if the caller may act on it (else NotFound,
        before a version mismatch could tell that it exists) and it is at the version asked."""
        if create:
            aggregate, trusted = kind(stream_id), False
        else:
            aggregate, trusted = await self._load(kind, stream_id, new, trust=trust)
        if not create and not ctx.may_act_for(aggregate.owner):
            self._remember(aggregate)  # as sound as loaded: kept for its owner's commands
            raise NotFound(f"{kind.stream_type} {stream_id} does not exist")
        if ctx.expected_version is not None and aggregate.version != ctx.expected_version:
            raise VersionMismatch(ctx.expected_version, aggregate.version)
        return aggregate, trusted

    async def _load(
        self, kind: type[A], stream_id: UUID, new: Callable[[], A] | None, *, trust: bool
    ) -> tuple[A, bool]:
        """The aggregate, and whether it came from the cache without reading the store."""
        cached = self._cache.pop(stream_id, None)
        if isinstance(cached, kind):
            if trust:
                return cached, True
            stream = await self._store.load(stream_id, after_version=cached.version)
            for event in stream.events:
                cached.apply(event)
            return cached, False
        stream = await self._store.load(stream_id)
        if stream.stream_type is None and new is not None:
            return new(), False
        if stream.stream_type != kind.stream_type:
            raise NotFound(f"{kind.stream_type} {stream_id} does not exist")
        return kind.rehydrate(stream_id, stream.events), False

    def _remember(self, aggregate: Aggregate) -> None:
        aggregate.pending = []
        self._cache[aggregate.id] = aggregate
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
