"""The `info --json` object: what a model file holds, from its typed document.

The keys are a contract (scripts read them): format, version, fingerprint, sample_rate, levels,
codebook_sizes, has_prior, dataset, health {utilization, perplexity, dead_codes, level_gain_db} and
prior (null or {architecture, val_perplexity, bigram_val_perplexity, copy_rate_8gram, verdict}).
stride, quantized, training, spectrogram and model are there too, for the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..persistence.document import HealthSummary, ModelDocument
from ..persistence.model_file import load_model_file


def info_dict(doc: ModelDocument) -> dict[str, Any]:
    """The `info --json` object of a document."""
    plain = doc.to_dict()
    return {
        "format": doc.format,
        "version": doc.version,
        "fingerprint": doc.fingerprint,
        "sample_rate": doc.spectrogram.sample_rate,
        "levels": doc.model.levels,
        "codebook_sizes": list(doc.model.codebook_sizes),
        "stride": doc.model.stride,
        "quantized": doc.model.quantize,
        "has_prior": doc.prior is not None,
        "dataset": {k: v for k, v in plain["dataset"].items() if k != "notes"},
        "health": (doc.health or HealthSummary()).as_info(),
        "training": {k: v for k, v in plain["training"].items() if k != "train"},
        "spectrogram": plain["spectrogram"],
        "model": plain["model"],
        "prior": None if doc.prior is None else doc.prior.as_info(),
    }


def grid_words(info: dict[str, Any]) -> str:
    """"3 levels × 128 codes, a column every 46 ms (stride 4), 44100 Hz": the grid as the editor shows it, from an
    `info_dict` (the report and `info` print it)."""
    sizes = info.get("codebook_sizes") or []
    codes = f"{sizes[0]} codes" if sizes and len(set(sizes)) == 1 else f"{sizes or '?'} codes"
    stride, rate = info.get("stride"), info.get("sample_rate")
    hop = (info.get("spectrogram") or {}).get("hop_length")
    column = ""
    if all(isinstance(v, int | float) and v > 0 for v in (stride, hop, rate)):
        column = f"a column every {1000 * stride * hop / rate:.0f} ms (stride {stride}), "
    elif stride is not None:
        column = f"stride {stride}, "
    return f"{info.get('levels')} levels × {codes}, {column}{rate} Hz"


def closest_words(best_val_db: Any) -> str:
    """The training's best validation distance as a musician reads it."""
    figure = format(best_val_db, ".2f") if isinstance(best_val_db, int | float) else "?"
    return f"at its closest, the decoded training sounds were {figure} dB from the originals"


def model_info(path: str | Path) -> dict[str, Any]:
    """The `info --json` object of a model file (read in full: damaged weights are refused)."""
    return info_dict(load_model_file(path).document)
