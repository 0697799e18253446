"""`Selection`: a rectangle of levels x positions on a code grid, clipped to the grid before use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    """Half-open ranges [level_start, level_stop) x [pos_start, pos_stop); None means "to the edge".

    Any values are accepted (negative, past the end); `clip` brings them inside a grid, and an edit on
    a selection that lies wholly outside the grid touches nothing.
    """

    level_start: int = 0
    level_stop: int | None = None
    pos_start: int = 0
    pos_stop: int | None = None

    @classmethod
    def rect(cls, levels: tuple[int, int], positions: tuple[int, int]) -> Selection:
        return cls(levels[0], levels[1], positions[0], positions[1])

    @classmethod
    def cell(cls, level: int, position: int) -> Selection:
        return cls(level, level + 1, position, position + 1)

    @classmethod
    def level(cls, level: int) -> Selection:
        """A whole row."""
        return cls(level, level + 1, 0, None)

    @classmethod
    def levels(cls, start: int, stop: int) -> Selection:
        return cls(start, stop, 0, None)

    @classmethod
    def column(cls, position: int) -> Selection:
        """A whole column (every level at one position)."""
        return cls(0, None, position, position + 1)

    @classmethod
    def columns(cls, start: int, stop: int) -> Selection:
        return cls(0, None, start, stop)

    @classmethod
    def everything(cls) -> Selection:
        return cls()

    def clip(self, levels: int, positions: int) -> Selection:
        """Concrete bounds inside a (levels, positions) grid; possibly empty, never negative."""
        l0 = min(max(self.level_start, 0), levels)
        l1 = min(max(levels if self.level_stop is None else self.level_stop, l0), levels)
        p0 = min(max(self.pos_start, 0), positions)
        p1 = min(max(positions if self.pos_stop is None else self.pos_stop, p0), positions)
        return Selection(l0, l1, p0, p1)

    @property
    def shape(self) -> tuple[int, int]:
        """(levels, positions) of a clipped selection."""
        assert self.level_stop is not None and self.pos_stop is not None, "clip the selection first"
        return self.level_stop - self.level_start, self.pos_stop - self.pos_start

    @property
    def empty(self) -> bool:
        n_levels, n_positions = self.shape
        return n_levels <= 0 or n_positions <= 0

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index a (levels, positions) array with it: `codes[sel.slices]`."""
        return slice(self.level_start, self.level_stop), slice(self.pos_start, self.pos_stop)

    def moved_to(self, level: int, position: int) -> Selection:
        """The same size with its top-left corner at (level, position)."""
        n_levels, n_positions = self.shape
        return Selection(level, level + n_levels, position, position + n_positions)

    def union(self, other: Selection) -> Selection:
        """The smallest rectangle holding both (both clipped); an empty one is ignored."""
        if self.empty:
            return other
        if other.empty:
            return self
        return Selection(
            min(self.level_start, other.level_start), max(self.level_stop, other.level_stop),  # type: ignore[type-var]
            min(self.pos_start, other.pos_start), max(self.pos_stop, other.pos_stop),  # type: ignore[type-var]
        )
