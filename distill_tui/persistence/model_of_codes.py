"""The model a codes document was made by, found without being told: `play`, `open`, `edit`, `info` and the
editor's offer to open another model's codes use it.

A codes document records its model's fingerprint (`model_fingerprint`) and, when Distill saved it, where that
model file was (`source.model_file`, a hint only). The model is the `.distill` file with that fingerprint: the
one the hint names, else one in the document's folder, the folder above it, or the current folder. Only model
headers are read (`header.py`), so looking costs milliseconds and never imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import DistillError
from .header import read_header_document

MODEL_FILE_KEY = "model_file"  # source.model_file in a codes document: where its model was when it was saved


def note_model(source: dict, model: str | Path | None) -> None:
    """Record in a codes document's `source` where its model file is (absolute), so a later `play` or `open`
    finds it from anywhere; None leaves what was there."""
    if model is not None:
        source[MODEL_FILE_KEY] = str(Path(model).absolute())


@dataclass
class ModelSearch:
    """What a search found: `model` (None when none matched) and the fingerprint it looked for (None when the
    document names none, or cannot be read; its loader then says what is wrong)."""

    model: Path | None
    fingerprint: str | None

    def why_not(self) -> str:
        """Why no model was found, in the words of an error message's parenthesis."""
        if not self.fingerprint:
            return "it names no model"
        return f"no model with fingerprint {self.fingerprint} is beside it or in the current folder"


def model_of_codes(path: Path) -> ModelSearch:
    """Find the model of the codes document at `path` (see the module's docstring)."""
    path = Path(path).absolute()
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        fingerprint = doc.get("model_fingerprint")
        hint = (doc.get("source") or {}).get(MODEL_FILE_KEY)
    except (OSError, ValueError, AttributeError):
        return ModelSearch(None, None)
    if not isinstance(fingerprint, str) or not fingerprint:
        return ModelSearch(None, None)
    candidates: list[Path] = [Path(hint)] if isinstance(hint, str) and hint else []
    for folder in dict.fromkeys((path.parent, path.parent.parent, Path.cwd().absolute())):
        try:
            candidates += sorted(folder.glob("*.distill"))
        except OSError:  # a folder that cannot be listed is passed over
            continue
    for candidate in candidates:
        try:
            if candidate.is_file() and read_header_document(candidate).fingerprint == fingerprint:
                return ModelSearch(candidate, fingerprint)
        except (DistillError, OSError):
            continue
    return ModelSearch(None, fingerprint)
