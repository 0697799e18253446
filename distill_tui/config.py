"""Configuration dataclasses; they travel inside the model file so loading rebuilds the exact model."""

from __future__ import annotations

import dataclasses
import math
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
    floor_db: float = -90.0  # log-magnitude floor relative to the sound's loudest bin (-80 cost 0.5 dB)
    n_mels: int = 128  # only for analysis (mel distance, mel oracle); the model reads and writes linear bins
    # "Fast Griffin-Lim" from the PGHI phase. Below momentum 0.99 it converges faster on real sounds: 28 iterations at
    # 0.95 score as 32 did at 0.99 (LSD and spectral convergence, exact magnitudes and decodes) in 7/8 of the time
    # (bench/RESULTS.md); model files keep the setting they were trained with
    griffin_lim_iters: int = 28
    griffin_lim_momentum: float = 0.95

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def validate(self) -> None:
        """Refuse (one line) values outside `BOUNDS`, or a hop longer than the window."""
        check_fields("SpectrogramConfig", dataclasses.asdict(self))
        if not 16000 <= self.sample_rate <= 48000:
            raise BadInputError(f"spectrogram.sample_rate {self.sample_rate} Hz is outside 16000-48000 Hz")
        if self.hop_length <= 0 or self.n_fft < self.hop_length:
            raise BadInputError(f"spectrogram.hop_length {self.hop_length} must be positive and at most n_fft {self.n_fft}")


def stft_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop) for a rate: the power of two nearest a 46 ms window (1024/256 at 22.05-24 kHz, 2048/512
    at 44.1-48 kHz), hop a quarter of it, so a frame and a grid column last the same at every rate."""
    n_fft = 2 ** round(math.log2(0.0464 * sample_rate))
    return n_fft, n_fft // 4


@dataclass
class ModelConfig:
    """The RVQ-VAE. Positions are time: one grid column = `stride` spectrogram frames."""

    n_bins: int = 513
    channels: int = 256  # a time budget too short for it trains 128 unless this is given (train/width.py)
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
    io_kernel: int = 3  # frames seen by the first (spectrum -> channels) and last (channels -> spectrum) convolutions

    def validate(self) -> None:
        """Refuse (one line) values outside `BOUNDS`, and shapes too large to build (`model_problems`)."""
        check_fields("ModelConfig", dataclasses.asdict(self))
        if self.stride < 1 or self.stride & (self.stride - 1):
            raise BadInputError(f"model.stride {self.stride} must be a power of two")
        if len(self.codebook_sizes) != self.levels:
            raise BadInputError(f"model.levels {self.levels} but {len(self.codebook_sizes)} codebook sizes")
        if any(not 2 <= k <= 4096 for k in self.codebook_sizes):
            raise BadInputError(f"model.codebook_sizes {self.codebook_sizes} must be between 2 and 4096")
        if self.dilation_growth < 1:
            raise BadInputError(f"model.dilation_growth {self.dilation_growth} must be 1 or more")
        if self.edge_positions < 0:
            raise BadInputError(f"model.edge_positions {self.edge_positions} must be 0 or more")
        if not 0.0 <= float(self.quantize_dropout) <= 1.0:
            raise BadInputError(f"model.quantize_dropout {self.quantize_dropout} must be between 0 and 1")
        if self.io_kernel % 2 == 0:
            raise BadInputError(f"model.io_kernel {self.io_kernel} must be odd (1, 3, 5, ...)")
        if not 1 <= self.levels <= 16:
            raise BadInputError(f"model.levels {self.levels} must be between 1 and 16")
        problem = model_problems(self)
        if problem:
            raise BadInputError(problem)


@dataclass
class TrainConfig:
    """Stage-1 training. `steps` or `minutes` bounds the run (whichever comes first)."""

    steps: int = 4000
    minutes: float | None = None
    batch_size: int = 16
    crop_frames: int = 64  # about 0.74 s at 22050 Hz / hop 256; a multiple of the stride
    lr: float | None = None  # peak learning rate; None: from the budget, 2e-3 to 1e-3 (train/budget_lr.py)
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * this
    grad_clip: float = 1.0
    eval_every: int = 200
    checkpoint_every_s: float = 60.0
    early_stop_evals: int = 8  # stop after this many evaluations in which neither validation nor training improved
    holdout: str = "none"  # "none": validate on the sounds trained on; "files" or "crops": held out (data/dataset.Split)
    keep: str = "final"  # "final": the last state; "best": the state with the best validation
    # k-means starts every codebook from this many latents (at least 16 per code): 1,024 against 4,096 started the
    # first step 1.7-2.2 s sooner and decoded no worse after 5 CPU minutes (bench/RESULTS.md, eighteenth session)
    kmeans_init_vectors: int = 1024
    # The spectrum's first and last convolutions start at the principal directions of the training crops' frames
    # (`VQVAE.start_at_principal_directions`)
    principal_init: bool = True
    seed: int = 0
    max_file_seconds: float = 600.0  # longer files are truncated, with a note
    trim_silence: bool = False
    collapse_codes: int = 2  # a level using at most this many codes over a pass is re-initialized
    low_utilization: float = 0.30
    min_level_gain_db: float = 0.05
    device: str = "auto"
    clock: str = "wall"  # what --minutes counts: "wall" time, or "cpu" (process CPU time / threads)
    # "bfloat16": the convolutions run in bfloat16 (autocast) while training; the quantizer, the last
    # convolution and the loss stay in float32, and the model file is float32 either way. "auto":
    # bfloat16 on a CPU with bfloat16 instructions, else float32 (`train.state.pick_precision`); the
    # model file records which ran. On a busy machine two bfloat16 threads can stall (3 s a step against
    # 0.25 s on one); the runner trains on one thread while that is cheaper (`train/governor.py`;
    # docs/architecture.md, decision 34).
    precision: str = "auto"
    # Training-crop variations (data/dataset.Augment): each crop quieter by up to this many dB, and its
    # pitch moved by up to this many semitones either way. Crops already start at any sample. Off: 6 dB and
    # 0.5 semitone made held-out and training sounds decode worse (docs/architecture.md, decision 28).
    augment_gain_db: float = 0.0
    augment_semitones: float = 0.0
    # Pitch-shifted copies of every training sound, made once in the time domain (data/copies.py), in
    # semitones (e.g. [-2, -1, 1, 2]); a crop comes from one of them with chance augment_copy_share. Off:
    # [-2, -1, 1, 2] at 0.5 made training and held-out sounds decode worse (bench/RESULTS.md, "pitch copies").
    augment_pitch_copies: list[float] = field(default_factory=list)
    augment_copy_share: float = 0.5


@dataclass
class DatasetSummary:
    """What the dataset scan found; stored in the model file."""

    files: int = 0
    minutes: float = 0.0
    skipped: list[dict[str, str]] = field(default_factory=list)
    root: str = ""


def default_codebook_size(n_files: int) -> int:
    """Codebook size by dataset size: 64 for 5-20 files, 128 for 20-100, 256 beyond."""
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


def from_dict(cls: type[T], data: Any) -> T:
    """Build a config dataclass from a dict (a model file's, a run's, a TOML table's), checking every value.

    Unknown keys are ignored (files written by newer minor versions). Each known key is checked against
    `BOUNDS[cls.__name__]` (its type and allowed range), then the dataclass's own `validate()` (fields that
    must agree with each other) runs; either failure is a one-line `BadInputError` naming the field.
    """
    if not isinstance(data, dict):
        raise BadInputError(f"the {SECTION.get(cls.__name__, cls.__name__)} settings must be a table of values, "
                            f"not {type(data).__name__} {str(data)[:40]!r}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kept = {k: v for k, v in data.items() if k in names}
    check_fields(cls.__name__, kept)
    obj = cls(**kept)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


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
            raise BadInputError(f"unknown {'key' if len(unknown) == 1 else 'keys'} in [{table}]: "
                                f"{', '.join(sorted(unknown))}", path)
    return data


# ---- bounds: what a config read from a file (a model file, a run, a TOML table) may hold ------------------


@dataclass(frozen=True)
class Bound:
    """A field's type and allowed values. kind: "int", "float", "bool", "str", "ints" or "floats" (lists)."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is allowed
    max_items: int = 64  # for lists

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
                "ints": "a list of whole numbers", "floats": "a list of numbers"}[self.kind]
        if self.lo is not None and self.hi is not None:
            what += f" in {self.lo:g}..{self.hi:g}"
        return what + (" (or none)" if self.optional else "")


BIG = 10**12  # steps, counts: a run is bounded by its minutes long before these
MAX_SEED = 2**63 - 1  # as torch.Generator and numpy take a seed
LONGEST_TRAINING_MIN = 7 * 24 * 60  # a week: a longer budget is a mistyped one (`--minutes 1e12`, `inf`)
SECTION = {"SpectrogramConfig": "spectrogram", "ModelConfig": "model", "TrainConfig": "train",
           "PriorConfig": "prior", "PriorTrainConfig": "prior train"}
_TRAIN_COMMON = {
    "steps": Bound("int", 0, BIG), "minutes": Bound("float", 0, LONGEST_TRAINING_MIN, optional=True),
    "batch_size": Bound("int", 1, 4096), "lr": Bound("float", 0, 10), "weight_decay": Bound("float", 0, 10),
    "warmup_steps": Bound("int", 0, BIG), "min_lr_ratio": Bound("float", 0, 1), "grad_clip": Bound("float", 0, 1e6),
    "eval_every": Bound("int", 1, BIG), "checkpoint_every_s": Bound("float", 0, 1e7),
    "seed": Bound("int", 0, MAX_SEED), "device": Bound("str"),
}
BOUNDS: dict[str, dict[str, Bound]] = {
    "SpectrogramConfig": {
        "sample_rate": Bound("int", 16000, 48000), "n_fft": Bound("int", 32, 16384), "hop_length": Bound("int", 8, 16384),
        "floor_db": Bound("float", -300, -10), "n_mels": Bound("int", 1, 1024),
        "griffin_lim_iters": Bound("int", 0, 1000), "griffin_lim_momentum": Bound("float", 0, 2),
    },
    "ModelConfig": {
        "n_bins": Bound("int", 17, 8193), "channels": Bound("int", 1, 2048), "latent_dim": Bound("int", 1, 1024),
        "stride": Bound("int", 1, 64), "res_blocks": Bound("int", 0, 16), "dilation_growth": Bound("int", 1, 16),
        "levels": Bound("int", 1, 16), "codebook_sizes": Bound("ints", 2, 4096, max_items=16),
        "commitment_weight": Bound("float", 0, 100), "ema_decay": Bound("float", 0, 1),
        "dead_code_threshold": Bound("float", 0, 1e6), "kmeans_init": Bound("bool"),
        "quantize_dropout": Bound("float", 0, 1),  # an old file's `true` is 1.0: bools pass as numbers here
        "quantize": Bound("bool"), "edge_positions": Bound("int", 0, 1024), "io_kernel": Bound("int", 1, 9),
    },
    "TrainConfig": {
        **_TRAIN_COMMON, "lr": Bound("float", 0, 10, optional=True), "crop_frames": Bound("int", 1, 1 << 16), "early_stop_evals": Bound("int", 0, BIG),
        "holdout": Bound("str", choices=("none", "files", "crops")), "keep": Bound("str", choices=("final", "best")),
        "kmeans_init_vectors": Bound("int", 1, 10**7), "principal_init": Bound("bool"), "max_file_seconds": Bound("float", 0.001, 86400),
        "trim_silence": Bound("bool"), "collapse_codes": Bound("int", 0, 4096), "low_utilization": Bound("float", 0, 1),
        "min_level_gain_db": Bound("float", -100, 100), "clock": Bound("str", choices=("wall", "cpu")),
        "precision": Bound("str", choices=("auto", "float32", "bfloat16")),
        "augment_gain_db": Bound("float", 0, 60), "augment_semitones": Bound("float", 0, 12),
        "augment_pitch_copies": Bound("floats", -12, 12, max_items=16), "augment_copy_share": Bound("float", 0, 1),
    },
    # PriorConfig lives in model/prior.py and PriorTrainConfig in train/prior_loop.py; their bounds live here
    # so that `from_dict` checks them wherever they are loaded.
    "PriorConfig": {
        "architecture": Bound("str", choices=("transformer", "lstm")), "levels": Bound("int", 1, 16),
        "codebook_sizes": Bound("ints", 2, 4096, max_items=16), "context": Bound("int", 1, 4096),
        "d_model": Bound("int", 1, 4096), "layers": Bound("int", 0, 64), "heads": Bound("int", 1, 64),
        "dropout": Bound("float", 0, 1), "corrupt": Bound("float", 0, 1), "bigram_base": Bound("bool"),
    },
    "PriorTrainConfig": {
        **_TRAIN_COMMON, "patience": Bound("int", 0, BIG), "start_share": Bound("float", 0, 1),
        "augment": Bound("bool"), "pitch_semitones": Bound("floats", -48, 48), "mixes_per_file": Bound("float", 0, 100),
        "gain_db": Bound("floats", -40, 40), "time_shifts": Bound("floats", 0, 1), "label_smoothing": Bound("float", 0, 1),
        "folds": Bound("int", 1, 100),
        "generated_grids": Bound("int", 0, 10000), "threads": Bound("int", 1, 1024),
    },
}
MAX_MODEL_PARAMETERS = 200_000_000  # 800 MB of float32; the default model has about 4 million


def _fits(bound: Bound, value: Any) -> bool:
    """True when `value` has the bound's type and lies in its range."""
    if value is None:
        return bound.optional
    if bound.kind in ("ints", "floats"):
        item = Bound(bound.kind[:-1], bound.lo, bound.hi)
        return isinstance(value, list) and len(value) <= bound.max_items and all(_fits(item, v) for v in value)
    if bound.kind == "bool":
        return isinstance(value, bool)
    if bound.kind == "str":
        return isinstance(value, str) and len(value) <= 64 and (not bound.choices or value in bound.choices)
    if bound.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return False
    if bound.kind == "float" and not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (bound.lo is None or value >= bound.lo) and (bound.hi is None or value <= bound.hi)


def check_fields(class_name: str, values: dict[str, Any]) -> None:
    """Refuse, in one line naming the field and its allowed values, any value in `values` outside `BOUNDS`."""
    table = BOUNDS.get(class_name, {})
    for name, value in values.items():
        bound = table.get(name)
        if bound is not None and not _fits(bound, value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise BadInputError(f"{SECTION.get(class_name, class_name)}.{name} = {shown} is not allowed: "
                                f"it must be {bound.describe()}")


def model_parameters(cfg: ModelConfig) -> int:
    """About how many weights a model of this shape has (convolutions and codebooks; biases left out)."""
    stages = int(math.log2(cfg.stride)) if cfg.stride >= 1 else 0
    c, blocks = cfg.channels, cfg.res_blocks * (stages + 1)
    per_side = cfg.io_kernel * cfg.n_bins * c + blocks * 4 * c * c + stages * 4 * c * c + c * cfg.latent_dim
    return 2 * per_side + sum(cfg.codebook_sizes) * cfg.latent_dim


def model_problems(cfg: ModelConfig) -> str | None:
    """Why a model of this shape should not be built (too many weights, dilations too wide), or None."""
    widest = cfg.dilation_growth ** max(cfg.res_blocks - 1, 0)
    if widest > 4096:
        return (f"model.dilation_growth {cfg.dilation_growth} with {cfg.res_blocks} res_blocks makes a dilation "
                f"of {widest}, over 4096")
    params = model_parameters(cfg)
    if params > MAX_MODEL_PARAMETERS:
        return (f"model of about {params / 1e6:.0f} million weights (channels {cfg.channels}, res_blocks "
                f"{cfg.res_blocks}, stride {cfg.stride}) is over the limit of {MAX_MODEL_PARAMETERS / 1e6:.0f} million")
    return None
