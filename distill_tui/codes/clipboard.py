"""The clipboard (copied codes with their model's identity) and mapping codes between models via embeddings."""

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

    def mapped(self, mapping: EmbeddingMap) -> Clipboard:
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


class EmbeddingMap:
    """Maps codes of a source model onto a target model through the shared latent space.

    Whole columns (every level) are decoded to latents and re-quantized by the target's residual
    quantizer, which also bridges different level counts and codebook sizes. Partial columns are
    mapped level by level to the nearest code of the same level. Only built when the user asks.
    """

    def __init__(self, source: Any, target: Any, source_fingerprint: str, target_fingerprint: str) -> None:
        """source, target: the models' `Quantizer`s (`codec.model.quantizer`)."""
        self.source, self.target = source, target
        self.source_fingerprint, self.target_fingerprint = source_fingerprint, target_fingerprint
        self.source_sizes = list(source.cfg.codebook_sizes)
        self.target_sizes = list(target.cfg.codebook_sizes)
        if source.cfg.latent_dim != target.cfg.latent_dim:
            raise BadInputError(
                f"cannot map codes from model {source_fingerprint} to model {target_fingerprint}: their latent "
                f"spaces differ in size ({source.cfg.latent_dim} vs {target.cfg.latent_dim})"
            )

    @classmethod
    def between(cls, source_codec: Any, target_codec: Any) -> EmbeddingMap:
        return cls(source_codec.model.quantizer, target_codec.model.quantizer, source_codec.fingerprint, target_codec.fingerprint)

    def check(self, source: _ModelCodes | None, target: _ModelCodes | None) -> None:
        if source is not None and source.model_fingerprint != self.source_fingerprint:
            raise BadInputError(f"these codes are from model {source.model_fingerprint}, not {self.source_fingerprint} as the mapping expects")
        if target is not None and target.model_fingerprint != self.target_fingerprint:
            raise BadInputError(f"the target grid is from model {target.model_fingerprint}, not {self.target_fingerprint} as the mapping expects")

    def map_grid(self, codes: np.ndarray) -> np.ndarray:
        """Whole columns: codes (Qs, P) of the source -> (Qt, P) of the target."""
        from .edits import latent, requantize

        z = latent(self.source, np.asarray(codes)[None])  # (1, P, D)
        return requantize(self.target, z)[0]

    def map_levels(self, rows: np.ndarray, level_start: int) -> np.ndarray:
        """Some levels: rows (L, P) of source levels level_start.. -> nearest codes of the same target levels."""
        out = np.full(rows.shape, EMPTY, dtype=np.int64)  # (L, P)
        for i in range(rows.shape[0]):
            q = level_start + i
            if q >= len(self.target_sizes):
                raise BadInputError(f"level {q + 1} has no counterpart in model {self.target_fingerprint} "
                                    f"({len(self.target_sizes)} levels)")
            src = self.source.embeddings(q).cpu().numpy()  # (Ks, D)
            dst = self.target.embeddings(q).cpu().numpy()  # (Kt, D)
            d = ((src[:, None, :] - dst[None, :, :]) ** 2).sum(-1)  # (Ks, Kt)
            nearest = d.argmin(axis=1)  # (Ks,)
            have = rows[i] >= 0
            out[i, have] = nearest[rows[i, have]]
        return out
