"""The `.distill` model file: one safetensors file, no pickle (design.md §6).

Layout: tensors named `vqvae.*` (the RVQ-VAE state dict, buffers included), optionally `prior.*`,
`extra.*` (cached analysis) and `optim.*` (optimizer state, in training checkpoints only). The
safetensors metadata holds one key, "distill": a JSON document with "format": "distill",
"version", the fingerprint (a hash of the `vqvae.*` tensors) and every config needed to rebuild
the model. Loading parses JSON and raw tensors only; it never executes anything from the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import ModelFileError, OutputError

FORMAT = "distill"
VERSION = 1
META_KEY = "distill"


def fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A stable hash of named tensors (names, dtypes, shapes and bytes): 16 hex digits."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


@dataclass
class ModelFile:
    """What a `.distill` file holds: groups of tensors by prefix, and the JSON document."""

    doc: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # prefix -> {name: tensor}

    @property
    def fingerprint(self) -> str:
        return self.doc["fingerprint"]

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        return self.tensors.get(prefix, {})


def save_model_file(path: str | Path, doc: dict[str, Any], tensors: dict[str, dict[str, torch.Tensor]]) -> str:
    """Write atomically (temporary file, then rename); returns the fingerprint.

    On any failure (full disk, unwritable folder) the temporary file is removed and whatever
    was at `path` before is left untouched.
    """
    path = Path(path)
    doc = dict(doc)
    doc["format"], doc["version"] = FORMAT, VERSION
    doc["fingerprint"] = fingerprint(tensors["vqvae"])
    flat = {f"{prefix}.{name}": t.detach().cpu().contiguous() for prefix, group in tensors.items() for name, t in group.items()}
    meta = {META_KEY: json.dumps(doc, default=str)}
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write the model file ({exc.strerror})", path) from exc
    try:
        save_file(flat, tmp, metadata=meta)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        Path(tmp).unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise OutputError(f"could not save the model file ({reason}); the previous file is unchanged", path) from exc
    return doc["fingerprint"]


def read_doc(path: str | Path) -> dict[str, Any]:
    """Only the JSON document (fast: no tensors are read)."""
    return _open(Path(path), tensors=False).doc


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
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            groups: dict[str, dict[str, torch.Tensor]] = {}
            if tensors:
                for key in fh.keys():
                    prefix, _, name = key.partition(".")
                    groups.setdefault(prefix, {})[name] = fh.get_tensor(key)
    except ModelFileError:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        raise ModelFileError(f"not a Distill model file, or truncated ({_first_line(exc)})", path) from exc
    if META_KEY not in meta:
        raise ModelFileError("not a Distill model file (a safetensors file without Distill metadata)", path)
    try:
        doc = json.loads(meta[META_KEY])
    except ValueError as exc:
        raise ModelFileError("model metadata is not valid JSON (file damaged?)", path) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError("not a Distill model file (wrong format name)", path)
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise ModelFileError(f"model file version {version} is not supported (this Distill reads version {VERSION})", path)
    for key in ("fingerprint", "spectrogram", "model"):
        if key not in doc:
            raise ModelFileError(f"model metadata lacks '{key}' (file damaged?)", path)
    if tensors and "vqvae" not in groups:
        raise ModelFileError("model file holds no VQ-VAE weights", path)
    return ModelFile(doc=doc, tensors=groups)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:120]
