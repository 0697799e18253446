"""`CodeGrid`: a sound's codes as a document, and its `*.codes.json` file format (docs/architecture.md, decision 7).

    {"format": "distill-codes", "version": 1, "model_fingerprint": str, "sample_rate": int,
     "hop_length": int, "stride": int, "levels": int, "positions": int,
     "codebook_sizes": [int per level], "codes": [[int per position] per level],
     "name": str, "source": {...}}

Loading validates everything: a wrong format or version, a shape that disagrees with the header,
or an index outside its level's codebook is refused with a one-line `CodesFileError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodesFileError
from ..fileio import atomic_write_json

FORMAT = "distill-codes"
VERSION = 1


@dataclass
class CodeGrid:
    """codes: (levels, positions) int64. Row 0 is the coarsest level."""

    codes: np.ndarray
    model_fingerprint: str
    codebook_sizes: list[int]
    sample_rate: int
    hop_length: int
    stride: int
    name: str = "untitled"
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.codes = np.asarray(self.codes, dtype=np.int64)
        self.validate()

    @property
    def levels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def positions(self) -> int:
        return int(self.codes.shape[1])

    @property
    def seconds_per_position(self) -> float:
        return self.stride * self.hop_length / self.sample_rate

    @property
    def seconds(self) -> float:
        return self.positions * self.seconds_per_position

    def validate(self, path: str | Path | None = None) -> None:
        if self.codes.ndim != 2:
            raise CodesFileError(f"codes must be a 2-D grid (levels x positions), got {self.codes.ndim}-D", path)
        if len(self.codebook_sizes) != self.levels:
            raise CodesFileError(f"{self.levels} levels of codes but {len(self.codebook_sizes)} codebook sizes", path)
        for level, size in enumerate(self.codebook_sizes):
            row = self.codes[level]
            if row.size and (row.min() < 0 or row.max() >= size):
                bad = int(row[(row < 0) | (row >= size)][0])
                raise CodesFileError(f"code {bad} at level {level + 1} is outside its codebook (0..{size - 1})", path)

    def check_model(self, fingerprint: str, codebook_sizes: list[int], path: str | Path | None = None) -> None:
        """Refuse a grid made by another model."""
        if self.model_fingerprint != fingerprint:
            raise CodesFileError(
                f"codes were made by another model (fingerprint {self.model_fingerprint}, this model is {fingerprint})", path
            )
        if list(codebook_sizes) != list(self.codebook_sizes):
            raise CodesFileError(f"codebook sizes {self.codebook_sizes} do not match the model's {codebook_sizes}", path)

    def copy(self) -> CodeGrid:
        return CodeGrid(
            codes=self.codes.copy(), model_fingerprint=self.model_fingerprint, codebook_sizes=list(self.codebook_sizes),
            sample_rate=self.sample_rate, hop_length=self.hop_length, stride=self.stride, name=self.name,
            source=dict(self.source),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model_fingerprint": self.model_fingerprint,
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "stride": self.stride,
            "levels": self.levels,
            "positions": self.positions,
            "codebook_sizes": list(self.codebook_sizes),
            "codes": self.codes.tolist(),
            "name": self.name,
            "source": self.source,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically (`fileio.atomic_write_json`): the old file survives any failure; `OutputError` says why."""
        return atomic_write_json(path, self.to_json(), "codes", separators=(",", ":"))

    @classmethod
    def from_json(cls, doc: Any, path: str | Path | None = None) -> CodeGrid:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CodesFileError("not a Distill codes file (format is not 'distill-codes')", path)
        if doc.get("version") != VERSION:
            raise CodesFileError(f"codes file version {doc.get('version')} is not supported (this Distill reads {VERSION})", path)
        required = ["model_fingerprint", "sample_rate", "hop_length", "stride", "levels", "positions", "codebook_sizes", "codes"]
        missing = [k for k in required if k not in doc]
        if missing:
            raise CodesFileError(f"codes file lacks {', '.join(missing)}", path)
        rows = doc["codes"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise CodesFileError("'codes' must be a list of lists of integers", path)
        if len(rows) != doc["levels"] or any(len(r) != doc["positions"] for r in rows):
            raise CodesFileError(f"grid shape does not match levels={doc['levels']} x positions={doc['positions']}", path)
        if not all(isinstance(v, int) and not isinstance(v, bool) for r in rows for v in r):
            raise CodesFileError("codes must be integers", path)
        try:
            grid = cls(
                codes=np.array(rows, dtype=np.int64).reshape(doc["levels"], doc["positions"]),
                model_fingerprint=str(doc["model_fingerprint"]),
                codebook_sizes=[int(k) for k in doc["codebook_sizes"]],
                sample_rate=int(doc["sample_rate"]),
                hop_length=int(doc["hop_length"]),
                stride=int(doc["stride"]),
                name=str(doc.get("name", "untitled")),
                source=dict(doc.get("source") or {}),
            )
        except CodesFileError as exc:
            raise CodesFileError(exc.reason, path) from exc
        except (TypeError, ValueError) as exc:
            raise CodesFileError(f"malformed codes file ({exc})", path) from exc
        return grid

    @classmethod
    def load(cls, path: str | Path) -> CodeGrid:
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise CodesFileError("no such codes file", path) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise CodesFileError(f"cannot read codes file ({exc})", path) from exc
        except ValueError as exc:
            raise CodesFileError(f"not valid JSON (truncated?): {exc}", path) from exc
        return cls.from_json(doc, path)
