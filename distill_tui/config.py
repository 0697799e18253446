"""Configuration dataclasses; they travel inside the model file so loading rebuilds the exact model."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import BadInputError

T = TypeVar("T")


@dataclass
class SpectrogramConfig:
    """The spectral front end. Fixed at training time; stored in the model file."""

    sample_rate: int = 22050  # 16-48 kHz allowed
    n_fft: int = 1024
    hop_length: int = 256
    floor_db: float = -90.0  # log-magnitude floor relative to the sound's loudest bin (-80 cost 0.5 dB, design.md §2)
    n_mels: int = 128  # only for analysis (mel distance, mel oracle); the model reads and writes linear bins
    griffin_lim_iters: int = 32
    griffin_lim_momentum: float = 0.99  # "fast Griffin-Lim"; clearly better than plain at equal iterations

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def validate(self) -> None:
        if not 16000 <= self.sample_rate <= 48000:
            raise BadInputError(f"sample rate {self.sample_rate} Hz is outside 16000-48000 Hz")
        if self.hop_length <= 0 or self.n_fft < self.hop_length:
            raise BadInputError(f"hop length {self.hop_length} must be positive and at most n_fft {self.n_fft}")


@dataclass
class ModelConfig:
    """The RVQ-VAE. Positions are time: one grid column = `stride` spectrogram frames."""

    n_bins: int = 513
    channels: int = 256
    latent_dim: int = 32
    stride: int = 4  # time downsampling, a power of two (4 or 8)
    res_blocks: int = 2  # residual blocks per resolution
    dilation_growth: int = 3  # dilations 1, 3, 9, ... within a resolution; 1 keeps every block local
    levels: int = 4
    codebook_sizes: list[int] = field(default_factory=lambda: [64, 64, 64, 64])
    commitment_weight: float = 0.25
    ema_decay: float = 0.9  # 0.8-0.95 for small data
    dead_code_threshold: float = 2.0  # the library's default is 0 (off)
    kmeans_init: bool = True
    # Quantizer dropout: the share of training steps that decode from levels 1..k only, k drawn uniformly.
    # Off by default. The library drops levels on every step (1.0, an old file's `true`), which kept the
    # decoder from relying on the last level: 4.75 dB against 4.18 dB off, 4.43 dB at 0.25 (5 minutes,
    # pads-drums-20, seed 2), and decoding from level 1 alone was no better for it (model-domain distance
    # 4.52 / 4.50 / 4.51 dB at 1.0 / 0.25 / 0).
    quantize_dropout: float = 0.0
    quantize: bool = True  # False: continuous bottleneck (the baseline that prices the quantizer)
    # Silence around every sound when encoding and decoding, in positions on each side: training crops
    # see sounds with silence around them, so a 6-frame one-shot decoded without it (the convolutions'
    # zero padding instead) scored 14.5 dB where its training crops fit to 0.1 dB (RESULTS.md).
    edge_positions: int = 8

    def validate(self) -> None:
        if self.stride < 1 or self.stride & (self.stride - 1):
            raise BadInputError(f"stride {self.stride} must be a power of two")
        if len(self.codebook_sizes) != self.levels:
            raise BadInputError(f"{self.levels} levels but {len(self.codebook_sizes)} codebook sizes")
        if any(not 2 <= k <= 4096 for k in self.codebook_sizes):
            raise BadInputError(f"codebook sizes {self.codebook_sizes} must be between 2 and 4096")
        if self.dilation_growth < 1:
            raise BadInputError(f"dilation_growth {self.dilation_growth} must be 1 or more")
        if self.edge_positions < 0:
            raise BadInputError(f"edge_positions {self.edge_positions} must be 0 or more")
        if not 0.0 <= float(self.quantize_dropout) <= 1.0:
            raise BadInputError(f"quantize_dropout {self.quantize_dropout} must be between 0 and 1")
        if not 1 <= self.levels <= 16:
            raise BadInputError(f"levels {self.levels} must be between 1 and 16")


@dataclass
class TrainConfig:
    """Stage-1 training. `steps` or `minutes` bounds the run (whichever comes first)."""

    steps: int = 4000
    minutes: float | None = None
    batch_size: int = 16
    crop_frames: int = 64  # about 0.74 s at 22050 Hz / hop 256; a multiple of the stride
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * this
    grad_clip: float = 1.0
    eval_every: int = 200
    checkpoint_every_s: float = 60.0
    early_stop_evals: int = 8  # stop after this many evaluations in which neither validation nor training improved
    holdout: str = "none"  # "none": validate on the sounds trained on; "files" or "crops": held out (data/dataset.Split)
    keep: str = "final"  # "final": the last state; "best": the state with the best validation
    kmeans_init_vectors: int = 4096  # the first batch feeds k-means; many more vectors than codebook_size
    seed: int = 0
    max_file_seconds: float = 600.0  # longer files are truncated, with a note
    trim_silence: bool = False
    collapse_codes: int = 2  # a level using at most this many codes over a pass is re-initialized
    low_utilization: float = 0.30
    min_level_gain_db: float = 0.05
    device: str = "auto"
    clock: str = "wall"  # what --minutes counts: "wall" time, or "cpu" (process CPU time / threads)


@dataclass
class DatasetSummary:
    """What the dataset scan found; stored in the model file."""

    files: int = 0
    minutes: float = 0.0
    skipped: list[dict[str, str]] = field(default_factory=list)
    root: str = ""


def default_codebook_size(n_files: int) -> int:
    """Codebook size by dataset size (design.md §4): 64 for 5-20 files, 128 for 20-100, 256 beyond."""
    if n_files <= 20:
        return 64
    if n_files <= 100:
        return 128
    return 256


def default_levels(minutes: float) -> int:
    """Fewer levels for little audio: a level must have something left to add.

    Measured with 5 minutes of training and no quantizer dropout (RESULTS.md): on 0.91 minutes
    (pads-drums-20), 4 levels gained 0.66 / 0.094 / 0.020 dB for levels 2-4 and 3 levels 0.45 / 0.065 dB;
    on the 16 s demo, a third level gained 0.013 dB. The 2-minute step, where a fourth level starts to pay,
    is a guess.
    """
    if minutes < 0.5:
        return 2
    return 3 if minutes < 2.0 else 4


def adaptive_model_config(n_files: int, minutes: float, n_bins: int, **overrides: Any) -> ModelConfig:
    """Dataset-adaptive defaults; any field given in `overrides` (not None) wins ."""
    levels = overrides.pop("levels", None) or default_levels(minutes)
    size = overrides.pop("codebook_size", None) or default_codebook_size(n_files)
    sizes = overrides.pop("codebook_sizes", None) or [size] * levels
    if len(sizes) == 1 and levels > 1:
        sizes = sizes * levels
    cfg = ModelConfig(n_bins=n_bins, levels=levels, codebook_sizes=list(sizes))
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    cfg.validate()
    return cfg


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from a dict, ignoring unknown keys (files written by newer minor versions)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def load_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a config file with optional [spectrogram], [model] and [train] tables."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise BadInputError(f"cannot read config: {exc.strerror}", path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"not valid TOML: {exc}", path) from exc
    known = {"spectrogram": SpectrogramConfig, "model": ModelConfig, "train": TrainConfig}
    for table, value in data.items():
        if table not in known or not isinstance(value, dict):
            raise BadInputError(f"unknown table [{table}] (expected spectrogram, model, train)", path)
        names = {f.name for f in dataclasses.fields(known[table])}
        unknown = set(value) - names
        if unknown:
            raise BadInputError(f"unknown key(s) in [{table}]: {', '.join(sorted(unknown))}", path)
    return data
