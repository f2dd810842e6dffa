"""Which SKUs have a stock item, as far as this process knows: orders are decided with it
without asking the store, and the append checks what was taken as untracked."""

from collections.abc import Iterable


class TrackedSkus:
    """The SKUs seen tracked here. A SKU once tracked stays tracked, so what is known is never
    wrong, only incomplete: an append that took a SKU as untracked while it was tracked fails
    (TrackingChanged), and the command is decided again after `learn`.

    Bounded: past `limit` SKUs some are forgotten, which costs only a query when next seen."""

    def __init__(self, *, limit: int = 100_000) -> None:
        self._known: set[str] = set()
        self._limit = limit

    def __contains__(self, sku: object) -> bool:
        return sku in self._known

    def split(self, skus: Iterable[str]) -> tuple[list[str], list[str]]:
        """The SKUs known tracked, and the others (each once, sorted)."""
        unique = sorted(set(skus))
        return [s for s in unique if s in self._known], [s for s in unique if s not in self._known]

    def learn(self, skus: Iterable[str]) -> None:
        self._known.update(skus)
        while len(self._known) > self._limit:
            self._known.pop()
