"""The `.distill` model file: one safetensors file, no pickle (docs/architecture.md).

Layout: tensors named `vqvae.*` (the RVQ-VAE state dict, buffers included), optionally `prior.*`,
`masked.*` (the masked prior, `train-prior --shape masked`), `perceptual.*` (cached analysis) and `optim.*` (optimizer state, in training checkpoints only). The
safetensors metadata holds one key, "distill": the JSON model document (persistence/document.py) with
"format": "distill", "version", the fingerprint (a hash of the `vqvae.*` tensors) and every config
needed to rebuild the model. Loading parses JSON and raw tensors only; it never executes anything from
the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import ModelFileError
from ..fileio import atomic_path
from .document import FORMAT, VERSION, ModelDocument
from .header import other_kind

META_KEY = "distill"
__all__ = ["FORMAT", "META_KEY", "VERSION", "ModelDocument", "ModelFile", "fingerprint", "load_model_file",
           "read_doc", "read_document", "save_model_file"]


def fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A stable hash of named tensors (names, dtypes, shapes and bytes): 16 hex digits."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


@dataclass
class ModelFile:
    """What a `.distill` file holds: the typed document and groups of tensors by prefix."""

    document: ModelDocument
    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # prefix -> {name: tensor}

    @property
    def fingerprint(self) -> str:
        """The hash of the `vqvae.*` tensors recorded in the document."""
        return self.document.fingerprint

    @property
    def doc(self) -> dict[str, Any]:
        """The document as a plain dict (a fresh copy), for code not yet reading `document`."""
        return self.document.to_dict()

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors named `prefix.*` (empty when the file has none)."""
        return self.tensors.get(prefix, {})


def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays as numbers and lists, paths as strings, anything else by `str`."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def save_model_file(path: str | Path, doc: ModelDocument | Mapping[str, Any],
                    tensors: dict[str, dict[str, torch.Tensor]]) -> str:
    """Write a model file atomically; returns the fingerprint of `tensors["vqvae"]`.

    `doc` is a `ModelDocument`, or a plain dict (the trainers build those), which is validated like a
    document read from a file. Format, version and fingerprint are set here. On any failure (full disk,
    unwritable folder, a library error) the temporary file is removed, `OutputError` says why, and
    whatever was at `path` before is left untouched.
    """
    path = Path(path)
    fp = fingerprint(tensors["vqvae"])
    if isinstance(doc, ModelDocument):
        document = dataclasses.replace(doc, format=FORMAT, version=VERSION, fingerprint=fp)
    else:
        document = ModelDocument.from_dict({**doc, "format": FORMAT, "version": VERSION, "fingerprint": fp}, path)
    flat = {f"{prefix}.{name}": t.detach().cpu().contiguous() for prefix, group in tensors.items() for name, t in group.items()}
    meta = {META_KEY: json.dumps(document.to_dict(), default=_json_default)}
    with atomic_path(path, "model file") as tmp:
        save_file(flat, str(tmp), metadata=meta)
    return fp


def read_document(path: str | Path) -> ModelDocument:
    """Only the typed document (fast: no tensors are read)."""
    return _open(Path(path), tensors=False).document


def read_doc(path: str | Path) -> dict[str, Any]:
    """Only the document, as a plain dict (fast: no tensors are read)."""
    return read_document(path).to_dict()


def load_model_file(path: str | Path, verify: bool = True) -> ModelFile:
    """Read and validate a `.distill` file; every problem is a one-line `ModelFileError`."""
    mf = _open(Path(path), tensors=True)
    if verify and fingerprint(mf.group("vqvae")) != mf.fingerprint:
        raise ModelFileError("the weights do not match the file's fingerprint (file damaged?)", path)
    return mf


def _open(path: Path, tensors: bool) -> ModelFile:
    if not path.exists():
        raise ModelFileError("no such model file", path)
    if path.is_dir():
        raise ModelFileError("is a folder, not a model file", path)
    _refuse_known_other_files(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            groups: dict[str, dict[str, torch.Tensor]] = {}
            if tensors:
                for key in fh.keys():
                    prefix, _, name = key.partition(".")
                    groups.setdefault(prefix, {})[name] = fh.get_tensor(key)
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        raise ModelFileError(f"not a Distill model file, or truncated ({_first_line(exc)})", path) from exc
    if META_KEY not in meta:
        raise ModelFileError("not a Distill model file (a safetensors file without Distill metadata)", path)
    try:
        raw = json.loads(meta[META_KEY])
    except ValueError as exc:
        raise ModelFileError("model metadata is not valid JSON (file damaged?)", path) from exc
    document = ModelDocument.from_dict(raw, path)
    if tensors and "vqvae" not in groups:
        raise ModelFileError("model file holds no VQ-VAE weights", path)
    return ModelFile(document=document, tensors=groups)


def _refuse_known_other_files(path: Path) -> None:
    """Name what a file is when it is one of ours but not a model (a codes file, audio), instead of
    safetensors' "header too large"."""
    try:
        kind = other_kind(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read it ({exc.strerror})", path) from exc
    if kind == "json":
        raise ModelFileError("this is a JSON file (a codes file?), not a model file (.distill)", path)
    if kind == "audio":
        raise ModelFileError("this is an audio file, not a model file (.distill)", path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:120]
