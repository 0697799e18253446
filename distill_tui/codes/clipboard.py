"""The clipboard (copied codes with their model's identity) and the rule that codes never cross models unmapped.

Mapping codes from one model to another goes through the models' latent space
(`distill_tui.model.latent.EmbeddingMap`); this package only sees it through `CodeMapping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import BadInputError
from .grid import CodeGrid
from .selection import Selection

EMPTY = -1  # a clipboard or pattern cell with no value


class _ModelCodes(Protocol):
    model_fingerprint: str
    codebook_sizes: list[int]


class CodeMapping(Protocol):
    """Codes of one model -> codes of another (`distill_tui.model.latent.EmbeddingMap` is one)."""

    source_fingerprint: str
    target_fingerprint: str
    target_sizes: list[int]

    def check(self, source: _ModelCodes | None, target: _ModelCodes | None) -> None:
        """Refuse codes not of the source model, or a target not of the target model (BadInputError)."""
        ...

    def map_grid(self, codes: np.ndarray) -> np.ndarray:
        """Whole columns: codes (Qs, P) of the source -> (Qt, P) of the target."""
        ...

    def map_levels(self, rows: np.ndarray, level_start: int) -> np.ndarray:
        """Rows (L, P) of source levels level_start.. -> the same levels of the target; -1 stays -1."""
        ...


def _describe(x: _ModelCodes) -> str:
    return f"model {x.model_fingerprint} ({len(x.codebook_sizes)} levels of {'/'.join(map(str, x.codebook_sizes))} codes)"


def require_same_model(source: _ModelCodes, target: _ModelCodes, what: str) -> None:
    """Refuse to move codes between models: the same index means a different sound in another model."""
    if source.model_fingerprint != target.model_fingerprint or list(source.codebook_sizes) != list(target.codebook_sizes):
        raise BadInputError(
            f"cannot {what} across models: the source is {_describe(source)}, the target is {_describe(target)}; "
            "map the codes through the embedding space to do it anyway (map_through_embeddings)"
        )


@dataclass
class Clipboard:
    """Copied codes: values (levels, positions), -1 where empty, and the levels they came from."""

    values: np.ndarray  # (L, P) int64
    level_start: int
    model_fingerprint: str
    codebook_sizes: list[int]  # every level of the source model, not only the copied ones
    name: str = ""

    def __post_init__(self) -> None:
        self.values = np.atleast_2d(np.asarray(self.values, dtype=np.int64))
        sizes = np.asarray(self.codebook_sizes, dtype=np.int64)
        if self.level_start < 0 or self.level_start + self.levels > len(sizes):
            raise BadInputError(f"clipboard levels {self.level_start + 1}..{self.level_start + self.levels} "
                                f"do not exist in a model of {len(sizes)} levels")
        rows = sizes[self.level_start : self.level_start + self.levels, None]  # (L, 1)
        bad = (self.values < EMPTY) | (self.values >= rows)
        if bad.any():
            li, pi = np.argwhere(bad)[0]
            raise BadInputError(f"clipboard code {int(self.values[li, pi])} is outside level {self.level_start + li + 1}'s codebook")

    @property
    def levels(self) -> int:
        return int(self.values.shape[0])

    @property
    def positions(self) -> int:
        return int(self.values.shape[1])

    @classmethod
    def copy_from(cls, grid: CodeGrid, selection: Selection, name: str = "") -> Clipboard:
        """Copy a selection (clipped to the grid; refused when nothing is left)."""
        sel = selection.clip(grid.levels, grid.positions)
        if sel.empty:
            raise BadInputError("the selection lies outside the grid: nothing to copy")
        return cls(values=grid.codes[sel.slices].copy(), level_start=sel.level_start,
                   model_fingerprint=grid.model_fingerprint, codebook_sizes=list(grid.codebook_sizes), name=name)

    def check_target(self, grid: CodeGrid) -> None:
        require_same_model(self, grid, "paste")

    def mapped(self, mapping: CodeMapping) -> Clipboard:
        """The same sound in the mapping's target model (refused if the clipboard is not of its source)."""
        mapping.check(self, None)
        full = self.level_start == 0 and self.levels == len(self.codebook_sizes) and not (self.values < 0).any()
        if full:
            values, start = mapping.map_grid(self.values), 0
        else:
            values, start = mapping.map_levels(self.values, self.level_start), self.level_start
        return Clipboard(values=values, level_start=start, model_fingerprint=mapping.target_fingerprint,
                         codebook_sizes=list(mapping.target_sizes), name=self.name)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "level_start": self.level_start, "model_fingerprint": self.model_fingerprint,
                "codebook_sizes": list(self.codebook_sizes), "values": self.values.tolist()}

    @classmethod
    def from_json(cls, doc: Any) -> Clipboard:
        try:
            return cls(values=np.asarray(doc["values"], dtype=np.int64), level_start=int(doc["level_start"]),
                       model_fingerprint=str(doc["model_fingerprint"]),
                       codebook_sizes=[int(k) for k in doc["codebook_sizes"]], name=str(doc.get("name", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"malformed clipboard or template ({exc})") from exc
