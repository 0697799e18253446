"""`CodeGrid`: a sound's codes as a document, and its `*.codes.json` file format (docs/architecture.md, decision 7).

    {"format": "distill-codes", "version": 1, "model_fingerprint": str, "sample_rate": int,
     "hop_length": int, "stride": int, "levels": int, "positions": int,
     "codebook_sizes": [int per level], "codes": [[int per position] per level],
     "name": str, "source": {...}}

`source.loop` (optional, true or false) says the sound is a loop, played round and exported decoded as a
loop; a file without it is not one. `distill-tui generate --loop` records `source.generated.mode = "loop"`,
which counts too (`CodeGrid.loop`).

Loading validates everything: a wrong format or version, a shape that disagrees with the header,
an index outside its level's codebook, a NaN or infinite number anywhere, a grid with no levels, JSON
nested too deeply or a file over 1 GiB is refused with a one-line `CodesFileError` naming the field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInputError, CodesFileError
from ..fileio import atomic_write_json

FORMAT = "distill-codes"
VERSION = 1
LONGEST_DECODE_S = 600.0  # the longest sound Distill decodes unless a caller raises the limit (inference/codec.py)


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

    def room(self) -> int:
        """How many columns this grid may still grow by before it decodes past LONGEST_DECODE_S (0: none)."""
        return max(math.ceil(LONGEST_DECODE_S / self.seconds_per_position - 1e-9) - self.positions, 0)

    def most_repeats(self, width: int) -> int:
        """How many times in a row a range of `width` columns may play (itself included) within `room`."""
        return 1 + self.room() // max(width, 1)

    def check_growth(self, positions: int) -> None:
        """Refuse (BadInputError) growing this grid to `positions` columns when that decodes past LONGEST_DECODE_S:
        what an edit checks before it allocates the new columns."""
        if over_limit(positions, self.seconds_per_position, LONGEST_DECODE_S):
            said = length_words(positions * self.seconds_per_position, LONGEST_DECODE_S)
            raise BadInputError(f"the result would be {said} long, over the {LONGEST_DECODE_S / 60:g} minutes Distill decodes")

    def check_code(self, level: int, code: int) -> None:
        """Refuse (BadInputError) a code that does not exist at `level` (0-based), in hex as the grid shows codes."""
        size = self.codebook_sizes[level]
        if not 0 <= code < size:
            width = max(len(f"{max(self.codebook_sizes) - 1:x}"), 2)  # the grid's cell width
            shown = f"{code:0{width}x}" if code >= 0 else f"-{-code:x}"
            raise BadInputError(f"code {shown} does not exist at level {level + 1}: "
                                f"its codes are {0:0{width}x}..{size - 1:0{width}x}")

    @property
    def loop(self) -> bool:
        """The sound is a loop: `source.loop`, else made by `generate --loop` (`source.generated.mode`)."""
        if "loop" in self.source:
            return self.source["loop"] is True
        made = self.source.get("generated")
        return isinstance(made, dict) and made.get("mode") == "loop"

    @loop.setter
    def loop(self, on: bool) -> None:
        self.source["loop"] = bool(on)

    @property
    def seconds(self) -> float:
        return self.positions * self.seconds_per_position

    @property
    def samples(self) -> int | None:
        """The sound's length in samples at the model's rate (its decode is trimmed to it), when known."""
        n = (self.source or {}).get("samples")
        return None if n is None else int(n)

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
            made = self.source.get("model_file")  # where that model was when saved (persistence/model_of_codes.py)
            saved = f", saved with {made}" if isinstance(made, str) and made else ""
            raise CodesFileError(
                f"codes were made by another model (fingerprint {self.model_fingerprint}{saved}; this model is "
                f"{fingerprint})", path
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
        """Build a grid from a parsed document, refusing anything that would fail later (see `check_document`)."""
        check_document(doc, path)
        rows = doc["codes"]
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
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodesFileError(f"malformed codes file ({str(exc).splitlines()[0][:120]})", path) from exc
        return grid

    @classmethod
    def load(cls, path: str | Path) -> CodeGrid:
        path = Path(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise CodesFileError("no such codes file", path) from exc
        except OSError as exc:
            raise CodesFileError(f"cannot read codes file ({exc.strerror or exc})", path) from exc
        if size > MAX_FILE_BYTES:
            raise CodesFileError(f"codes file of {size / 2**20:.0f} MiB is over the {MAX_FILE_BYTES >> 20} MiB limit", path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except IsADirectoryError as exc:
            raise CodesFileError("is a folder, not a codes file", path) from exc
        except OSError as exc:
            raise CodesFileError(f"cannot read codes file ({exc.strerror or exc})", path) from exc
        except UnicodeDecodeError as exc:
            raise CodesFileError(f"not a codes file: not UTF-8 text (byte {exc.start})", path) from exc
        except RecursionError as exc:
            raise CodesFileError("not a codes file: JSON nested too deeply", path) from exc
        except ValueError as exc:  # JSONDecodeError, and ints over Python's 4300-digit limit
            raise CodesFileError(f"not valid JSON (truncated?): {str(exc).splitlines()[0][:120]}", path) from exc
        return cls.from_json(doc, path)


MAX_FILE_BYTES = 1 << 30  # a 10-minute grid is well under 1 MiB; 1 GiB of JSON would take ~15 GB to parse
MAX_LEVELS = 16
MAX_CODEBOOK = 4096
MAX_SOURCE_DB = 1000.0  # |ref_db|, |gain_db|: 10 ** (1000 / 20) is still a finite float
HEADER_INTS = {  # field: (lowest, highest) allowed
    "sample_rate": (1000, 384000),
    "hop_length": (1, 1 << 16),
    "stride": (1, 1 << 10),
    "levels": (1, MAX_LEVELS),
    "positions": (0, 1 << 40),  # an empty grid is a document (an editor may save one); decoding refuses it
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _non_finite_field(doc: Any) -> str | None:
    """The dotted name of the first NaN or infinite number in `doc` (`source.gain_db`, `codes[0][3]`), or None.

    Iterative, so any depth that `json.loads` accepted is walked without recursion.
    """
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "the document"
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
    return None


def check_document(doc: Any, path: str | Path | None = None) -> None:
    """Refuse, in one line naming the field, a codes document that cannot be decoded as it stands.

    Checks the format and version, that no number anywhere is NaN or infinite, the header's integers
    and their ranges, the grid's shape and its codes (integers inside their codebook), and the source
    fields decoding reads (`samples`, `ref_db`, `gain_db`).
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CodesFileError("not a Distill codes file (format is not 'distill-codes')", path)
    if doc.get("version") != VERSION:
        raise CodesFileError(f"codes file version {doc.get('version')} is not supported (this Distill reads {VERSION})", path)
    required = ["model_fingerprint", "sample_rate", "hop_length", "stride", "levels", "positions", "codebook_sizes", "codes"]
    missing = [k for k in required if k not in doc]
    if missing:
        raise CodesFileError(f"codes file lacks {', '.join(missing)}", path)
    bad = _non_finite_field(doc)
    if bad is not None:
        raise CodesFileError(f"{bad} is NaN or infinite; every number must be finite", path)
    if doc["levels"] == 0 or doc["codes"] == []:
        raise CodesFileError("the grid has no levels", path)
    for name, (lo, hi) in HEADER_INTS.items():
        value = doc[name]
        if not _is_int(value) or not lo <= value <= hi:
            raise CodesFileError(f"{name} must be a whole number in {lo}..{hi}, got {str(value)[:40]}", path)
    sizes = doc["codebook_sizes"]
    if not isinstance(sizes, list) or not all(_is_int(k) and 2 <= k <= MAX_CODEBOOK for k in sizes):
        raise CodesFileError(f"codebook_sizes must be a list of whole numbers in 2..{MAX_CODEBOOK}", path)
    _check_codes(doc, sizes, path)
    _check_source(doc.get("source"), path)


def _check_codes(doc: dict[str, Any], sizes: list[int], path: str | Path | None) -> None:
    rows = doc["codes"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise CodesFileError("'codes' must be a list of lists of integers", path)
    if len(rows) != doc["levels"] or any(len(r) != doc["positions"] for r in rows):
        raise CodesFileError(f"grid shape does not match levels={doc['levels']} x positions={doc['positions']}", path)
    if len(sizes) != len(rows):
        raise CodesFileError(f"{len(rows)} levels of codes but {len(sizes)} codebook sizes", path)
    for level, (row, size) in enumerate(zip(rows, sizes, strict=True)):
        for pos, v in enumerate(row):
            if not _is_int(v):
                raise CodesFileError(f"codes must be integers (level {level + 1}, position {pos + 1}: {repr(v)[:20]})", path)
            if not 0 <= v < size:
                shown = str(v) if len(str(v)) <= 24 else f"a {len(str(v))}-digit number"
                why = "too large for any codebook" if v >= 2**31 else f"outside its codebook (0..{size - 1})"
                raise CodesFileError(f"code {shown} at level {level + 1}, position {pos + 1} is {why}", path)


def _check_source(source: Any, path: str | Path | None) -> None:
    if source is None:
        return
    if not isinstance(source, dict):
        raise CodesFileError("'source' must be an object", path)
    samples = source.get("samples")
    if samples is not None and (not _is_int(samples) or samples < 0):
        raise CodesFileError(f"source.samples must be a whole number of samples, got {str(samples)[:40]}", path)
    if not isinstance(source.get("loop", False), bool):
        raise CodesFileError(f"source.loop must be true or false, got {str(source['loop'])[:40]}", path)
    for key in ("ref_db", "gain_db"):
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_SOURCE_DB:
            raise CodesFileError(f"source.{key} must be a number of dB within +-{MAX_SOURCE_DB:g}, got {str(value)[:40]}", path)


_HEADER_FIELD = re.compile(rb'"(positions|stride|hop_length|sample_rate)"\s*:\s*(\d{1,40})\s*[,}]')


def over_limit(positions: int, seconds_per_position: float, max_seconds: float) -> bool:
    """True when `positions` columns are more than the whole columns that hold `max_seconds`: a grid made for
    exactly the limit ends a fraction of a column past it (600 s at 44.1 kHz is 12,919.9 columns, so 12,920)."""
    return positions > math.ceil(max_seconds / seconds_per_position - 1e-9)


def length_words(seconds: float, max_seconds: float) -> str:
    """A length said against a limit: in seconds when it is within a minute of it ("600.09 s"; in minutes it read
    "10.0 minutes, over the limit of 10 minutes"), else in minutes."""
    return f"{seconds:.2f} s" if seconds - max_seconds < 60 else f"{seconds / 60:.1f} minutes"


def peek_seconds(path: str | Path, head_bytes: int = 1 << 16, max_seconds: float | None = None) -> float | None:
    """How long a codes file says it is, read from its first bytes only; None when that cannot be told, or (given
    `max_seconds`) when it is not `over_limit`.

    A fast first look (Distill writes the header before the codes), so a file that declares hours of audio
    is refused before megabytes of codes are parsed. `load` checks the real grid afterwards.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(head_bytes)
    except OSError:
        return None
    fields = {m.group(1).decode(): int(m.group(2)) for m in _HEADER_FIELD.finditer(head)}
    if len(fields) < 4 or not all(fields.values()) or any(fields[k] > HEADER_INTS[k][1] for k in fields):
        return None  # `load` names the field that is out of range
    per_position = fields["stride"] * fields["hop_length"] / fields["sample_rate"]
    if max_seconds is not None and not over_limit(fields["positions"], per_position, max_seconds):
        return None
    return fields["positions"] * per_position
