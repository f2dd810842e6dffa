"""Where each projection keeps its documents: versioned collections, one active at a time.

A projection's documents live in `<projection>_v<n>` (and auxiliary `<projection>_v<n>_<aux>`).
The active version of each projection is recorded in `projection_state`, so a rebuild can fill
version n + 1 beside the live one and switch atomically.
"""

from dataclasses import dataclass

STATE = "projection_state"
DEAD_LETTERS = "dead_letters"


@dataclass(frozen=True)
class Collections:
    """The collection names of one version of one projection."""

    projection: str
    version: int

    @property
    def main(self) -> str:
        return f"{self.projection}_v{self.version}"

    def aux(self, role: str) -> str:
        return f"{self.main}_{role}"

    def name(self, role: str) -> str:
        return self.main if role == "main" else self.aux(role)
