"""A model file's document read without torch: the safetensors header only (docs/architecture.md, decision 6).

A safetensors file starts with 8 bytes, the header's length (little-endian), then the header: JSON whose
"__metadata__" holds the Distill document under "distill" (persistence/model_file.py writes it). Reading
those bytes needs neither torch nor the weights, so the editor can name the model and find its cached
codes before torch is imported (tui/loading.py). The document is validated as `model_file.read_document`
does; only the tensors are left unread (and unchecked: a damaged weight shows when the model loads).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from ..errors import ModelFileError
from .document import ModelDocument

META_KEY = "distill"  # the same key as model_file.META_KEY (that module imports torch)
MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit


AUDIO_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"FORM", b"ID3\x03", b"ID3\x04")  # WAV, FLAC, Ogg, AIFF, MP3


def other_kind(path: str | Path) -> str | None:
    """What a file given as a model is instead, from its first bytes: "json" (a codes file?), "audio", or
    None (a model, or something else). `OSError` when it cannot be read."""
    with Path(path).open("rb") as fh:
        head = fh.read(16)
    if head.lstrip()[:1] == b"{":
        return "json"
    if head[:4] in AUDIO_MAGIC:
        return "audio"
    return None


def read_header_document(path: str | Path) -> ModelDocument:
    """The typed document of a `.distill` file, from its header alone; `ModelFileError` names what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelFileError("not a Distill model file, or truncated (shorter than a header)", path)
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES:
                raise ModelFileError("not a Distill model file (its header would be too large)", path)
            raw = fh.read(n)
    except FileNotFoundError as exc:
        raise ModelFileError("no such model file", path) from exc
    except IsADirectoryError as exc:
        raise ModelFileError("is a folder, not a model file", path) from exc
    except OSError as exc:
        raise ModelFileError(f"cannot read it ({exc.strerror or exc})", path) from exc
    if len(raw) < n:
        raise ModelFileError("not a Distill model file, or truncated (the header is cut short)", path)
    try:
        header = json.loads(raw)
        meta = header.get("__metadata__") or {}
        doc = json.loads(meta[META_KEY])
    except (ValueError, AttributeError, KeyError, TypeError, RecursionError) as exc:
        raise ModelFileError("not a Distill model file (no Distill document in its header)", path) from exc
    return ModelDocument.from_dict(doc, path)
