"""The JSON document inside a `.distill` file, as typed dataclasses: one reader, one writer.

`ModelDocument.from_dict(d, path)` is the only place that reads the document's keys. It checks every
known field's type and refuses a wrong type or a missing required field with a one-line
`ModelFileError` naming the field (`model.codebook_sizes[1]`). `ModelDocument.to_dict()` is the only
writer. Keys this version does not know (written by a newer Distill, or a trainer's private state
such as "trainer") are kept in `extra` and written back unchanged, so a file round-trips.

Layout of the document (docs/architecture.md describes the file as a whole):

    format "distill", version 1, fingerprint   -- checked on load
    spectrogram  SpectrogramConfig               -- required; rebuilds the front end
    model        ModelConfig                     -- required; rebuilds the RVQ-VAE
    dataset      DatasetSummary                  -- what the scan found
    training     TrainingSummary                 -- how the VQ-VAE was trained (its TrainConfig in `train`)
    health       HealthSummary or null           -- codebook health over a whole pass of the data
    prior        PriorSummary or null            -- the prior's report; its weights are the `prior.*` tensors
    masked_prior MaskedPriorSummary (absent unless trained; its weights are the `masked.*` tensors)
    perceptual   PerceptualCache (absent until computed; analysis/perceptual.py)
"""

from __future__ import annotations

import dataclasses
import numbers
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from ..config import ModelConfig, SpectrogramConfig, TrainConfig, from_dict, to_dict
from ..errors import BadInputError, ModelFileError

FORMAT = "distill"
VERSION = 1

S = TypeVar("S", bound="_Section")
Where = str | Path | None


class _Mismatch(Exception):
    """A value of the wrong type (internal; becomes a ModelFileError naming the field)."""


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(hint))
    if hint is type(None):
        return "null"
    if origin is list:
        return "a list"
    if origin is dict or hint is dict:
        return "an object"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _check(value: Any, hint: Any, name: str) -> Any:
    """`value` if it has the type `hint` (ints and floats are normalized), else raise `_Mismatch`."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        deeper = None  # a list that is one of the types but holds a wrong item: name the item
        for a in args:
            if a is not type(None):
                try:
                    return _check(value, a, name)
                except _Mismatch as exc:
                    deeper = deeper or (exc if exc.args[0] != name else None)
        raise deeper or _Mismatch(name, hint, value)
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if hint is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    if origin is list and isinstance(value, list):
        item = args[0] if args else Any
        return [_check(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
    if (origin is dict or hint is dict) and isinstance(value, dict):
        return dict(value)
    raise _Mismatch(name, hint, value)


def _refuse(exc: _Mismatch, path: Where) -> ModelFileError:
    name, hint, value = exc.args
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return ModelFileError(f"model metadata: '{name}' must be {_describe(hint)}, got {shown[:40]}", path)


def _fields(cls: type, data: Mapping[str, Any], where: str, path: Where) -> tuple[dict[str, Any], dict[str, Any]]:
    """Type-checked values of `cls`'s fields present in `data`, and the keys `cls` does not know."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_") and f.name != "extra"}
    known, extra = {}, {}
    for key, value in data.items():
        if key in names:
            try:
                known[key] = _check(value, hints[key], f"{where}{key}")
            except _Mismatch as exc:
                raise _refuse(exc, path) from None
        else:
            extra[key] = value
    return known, extra


def _section_dict(where: str, value: Any, path: Where) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFileError(f"model metadata: '{where}' must be an object, got {type(value).__name__}", path)
    return value


@dataclass
class _Section:
    """A part of the document: typed fields, unknown keys in `extra`; null fields written only if read."""

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)
    _present: frozenset[str] = field(default=frozenset(), kw_only=True, compare=False, repr=False)

    @classmethod
    def from_dict(cls: type[S], data: Any, where: str, path: Where = None) -> S:
        """Check and type `data` (the object at `where` in the document)."""
        return _read_section(cls, _section_dict(where, data, path), where, path)

    def to_dict(self) -> dict[str, Any]:
        """The section as stored: unknown keys first, then the known fields (a null only where one was read)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra" or f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if value is None and f.name not in self._present:
                continue
            out[f.name] = _plain(value)
        return {**_plain(self.extra), **out}


def _plain(value: Any) -> Any:
    """A JSON-ready deep copy (dataclasses become dicts)."""
    if isinstance(value, _Section):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _read_section(cls: type[S], data: dict[str, Any], where: str, path: Where) -> S:
    for key in cls.REQUIRED:
        if key not in data:
            raise ModelFileError(f"model metadata lacks '{where}.{key}' (file damaged?)", path)
    known, extra = _fields(cls, data, f"{where}.", path)
    return cls(**known, extra=extra, _present=frozenset(data))


@dataclass
class DatasetSummary(_Section):
    """What the dataset scan found when the VQ-VAE was trained."""

    files: int = 0
    minutes: float = 0.0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"path", "reason"}
    root: str = ""
    median_ref_db: float | None = None  # the loudness reference encoding defaults to
    notes: list[Any] = field(default_factory=list)
    held_out: list[str] | None = None  # content digests of the files `--holdout files` held out (None: not recorded)


@dataclass
class TrainingSummary(_Section):
    """How the VQ-VAE was trained: budget spent, where, the TrainConfig used and how it ended."""

    steps: int | None = None
    seconds: float | None = None
    device: str | None = None
    train: TrainConfig | None = None
    best_val_db: float | None = None
    healthy_at_s: float | None = None
    stopped_by: str | None = None
    kept: str | None = None
    final_val_db: float | None = None
    warnings: list[str] = field(default_factory=list)
    _train_extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)  # unknown keys of `train`
    # the keys `train` had when read from a file: a field added since, at its default, is not written back
    _train_keys: frozenset[str] | None = field(default=None, kw_only=True, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any, where: str = "training", path: Where = None) -> TrainingSummary:
        """Check and type the training section; its `train` object becomes a `TrainConfig`."""
        data = _section_dict(where, data, path)
        train = data.get("train")
        rest = {k: v for k, v in data.items() if k != "train"}
        out = _read_section(cls, rest, where, path)
        if train is not None:
            # A record of what was run: built directly, so today's bounds do not refuse an old file.
            known, out._train_extra = _fields(TrainConfig, _section_dict(f"{where}.train", train, path), f"{where}.train.", path)
            out.train = TrainConfig(**known)
            out._train_keys = frozenset(train)
        out._present = frozenset(data)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The training section as stored, `train` with its unknown keys put back."""
        out = super().to_dict()
        if self.train is not None:
            train, defaults = to_dict(self.train), to_dict(TrainConfig())
            if self._train_keys is not None:
                train = {k: v for k, v in train.items() if k in self._train_keys or v != defaults.get(k)}
            out["train"] = {**_plain(self._train_extra), **train}
        return out

    @property
    def max_file_seconds(self) -> float:
        """The longest file the training read (longer ones were truncated); the default when unrecorded."""
        return (self.train or TrainConfig()).max_file_seconds


@dataclass
class HealthSummary(_Section):
    """Codebook health over a whole pass of the data; every list has one entry per level."""

    utilization: list[float] = field(default_factory=list)  # share of the level's codes used
    perplexity: list[float] = field(default_factory=list)
    dead_codes: list[int] = field(default_factory=list)
    level_gain_db: list[float] = field(default_factory=list)  # how much closer adding the level brings the decode
    distance_db_by_levels: list[float] = field(default_factory=list)  # [k]: distance decoding with levels 1..k
    counts: list[list[int]] | None = None  # per level, how often each code was used

    def as_info(self) -> dict[str, list[Any]]:
        """The four lists `info --json` reports."""
        return {"utilization": list(self.utilization), "perplexity": list(self.perplexity),
                "dead_codes": list(self.dead_codes), "level_gain_db": list(self.level_gain_db)}


@dataclass
class PriorSummary(_Section):
    """The prior's report. Its configuration stays a plain object: inference/generate.py builds the network."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("architecture", "vqvae_fingerprint", "config")
    architecture: str = ""
    vqvae_fingerprint: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    val_perplexity: float | None = None
    bigram_val_perplexity: float | None = None
    copy_rate_8gram: float | None = None
    verdict: str | None = None
    folds: dict[str, Any] | None = None  # the k-fold decision (train/prior_folds.py FoldDecision); older files: none

    def as_info(self) -> dict[str, Any]:
        """The keys `info --json` reports; `folds` is null for a prior trained before the k-fold decision."""
        return {"architecture": self.architecture, "val_perplexity": self.val_perplexity,
                "bigram_val_perplexity": self.bigram_val_perplexity, "copy_rate_8gram": self.copy_rate_8gram,
                "verdict": self.verdict, "folds": self.folds}

    def folds_lines(self) -> list[str] | None:
        """How the prior was chosen, from the k-fold figures: one fact a line, the details indented by two
        spaces under what they explain; None when the file has none."""
        f = self.folds
        try:
            return _folds_lines(f) if f else None
        except (KeyError, TypeError, ValueError):  # a damaged or newer figure set: shown in --json only
            return None


def _folds_lines(f: dict[str, Any]) -> list[str]:
    lines = [f"how it was chosen (sounds held out of training, mean of {f['folds']} folds):",
             f"  perplexity of the network alone {f['network_perplexity']:.2f} (step {f['best_step']}), of the "
             f"bigram {f['bigram_perplexity']:.2f}"]
    if not f.get("keep_blend"):
        lines.append("  kept: the network" if f["keep_network"] else "  kept: the bigram")
    else:  # train/prior_folds.py: the network blended with the bigram, and maybe more parts
        parts = ["the network", "the bigram"]
        shares = [f"network {f['blend_weights']}"]
        if f.get("cross_weights"):  # model/cross_level.py: the code given the previous slot's
            parts.append("the cross-level table")
            shares.append(f"cross-level table {f['cross_weights']}")
        if f.get("ngram_weights"):  # model/ngram.py: the same level's Kneser-Ney n-gram
            parts.append(f"the order-{f['ngram_order']} n-gram")
            shares.append(f"n-gram {f['ngram_weights']}")
        lines.append(f"  kept: a blend of {', '.join(parts[:-1])} and {parts[-1]}, perplexity "
                     f"{f['blend_perplexity']:.2f}")
        lines.append("    shares by level: " + ", ".join(shares))
        if any(m != "none" for m in f.get("memory_modes") or []):  # model/memory.py: the sound's own codes so far
            lines.append("    leaning on the sound's own earlier codes: " + ", ".join(
                f"level {q + 1} {m}" + ("" if m == "none" else f" {d:g}/{k:g}")
                for q, (m, d, k) in enumerate(zip(f["memory_modes"], f["memory_decays"], f["memory_kappas"], strict=True))
            ) + f" ({f['blend_without_memory']['perplexity']:.2f} without)")
        lines.append("    nats per code by level: " + ", ".join(f"{v:.2f}" for v in f["blend_nll"]))
    lines.append("  network against bigram by level (nats per code ± spread over folds):")
    lines += [f"    level {q + 1} {n:.2f}±{ns:.2f} against {b:.2f}±{bs:.2f}" for q, (n, ns, b, bs) in enumerate(
        zip(f["network_nll"], f["network_nll_spread"], f["bigram_nll"], f["bigram_nll_spread"], strict=True))]
    return lines


@dataclass
class MaskedPriorSummary(_Section):
    """The masked prior's report (model/masked_prior.py); `config` is its `MaskedConfig`. Older files have none."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("vqvae_fingerprint", "config")
    vqvae_fingerprint: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class PerceptualLevel(_Section):
    REQUIRED: ClassVar[tuple[str, ...]] = ("label", "reason", "descriptions")
    label: str = ""
    reason: str = ""
    descriptions: list[str] = field(default_factory=list)


@dataclass
class PerceptualCache(_Section):
    """The JSON part of the cached perceptual data (its arrays are the `perceptual.*` tensors)."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("version", "typical", "levels")
    version: int = 1
    hold_positions: int | None = None
    typical: list[int] = field(default_factory=list)
    note: str = ""
    levels: list[PerceptualLevel] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, where: str = "perceptual", path: Where = None) -> PerceptualCache:
        """Check and type the cache's JSON part, each level's words included."""
        data = _section_dict(where, data, path)
        levels = data.get("levels")
        rest = {k: v for k, v in data.items() if k != "levels"}
        out = _read_section(cls, {**rest, "levels": []}, where, path)
        if not isinstance(levels, list):
            raise ModelFileError(f"model metadata: '{where}.levels' must be a list", path)
        out.levels = [PerceptualLevel.from_dict(v, f"{where}.levels[{i}]", path) for i, v in enumerate(levels)]
        return out


def _config(cls: type, data: Any, where: str, path: Where) -> tuple[Any, dict[str, Any]]:
    """A config dataclass through `config.from_dict` and its `validate()`; unknown keys returned apart."""
    data = dict(_section_dict(where, data, path))
    if cls is ModelConfig and isinstance(data.get("quantize_dropout"), bool):
        data["quantize_dropout"] = 1.0 if data["quantize_dropout"] else 0.0  # old files: true meant every step
    names = {f.name for f in dataclasses.fields(cls)}
    known = {k: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    try:  # the one check of a config's values: types and bounds (`config.BOUNDS`), then `validate()`
        cfg = from_dict(cls, known)
        cfg.validate()
    except BadInputError as exc:
        raise ModelFileError(f"model metadata: {exc.reason}", path) from None
    return cfg, extra


@dataclass
class ModelDocument:
    """The typed model document. Build it with `from_dict` (validates) and write it with `to_dict`."""

    fingerprint: str
    spectrogram: SpectrogramConfig
    model: ModelConfig
    dataset: DatasetSummary = field(default_factory=DatasetSummary)
    training: TrainingSummary = field(default_factory=TrainingSummary)
    health: HealthSummary | None = None
    prior: PriorSummary | None = None
    perceptual: PerceptualCache | None = None
    distill_tui_version: str | None = None
    masked_prior: MaskedPriorSummary | None = None
    format: str = FORMAT
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level keys, written back as they were
    spectrogram_extra: dict[str, Any] = field(default_factory=dict, repr=False)
    model_extra: dict[str, Any] = field(default_factory=dict, repr=False)

    TOP: ClassVar[tuple[str, ...]] = ("format", "version", "fingerprint", "spectrogram", "model", "dataset",
                                      "training", "health", "prior", "perceptual", "distill_tui_version",
                                      "masked_prior")

    @classmethod
    def from_dict(cls, d: Any, path: Where = None) -> ModelDocument:
        """Validate and type a document read from a file; any problem is a one-line `ModelFileError`."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ModelFileError("not a Distill model file (wrong format name)", path)
        version = d.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelFileError(f"model metadata: version must be an integer, got {version!r}", path)
        if not 1 <= version <= VERSION:
            raise ModelFileError(f"model file version {version} is not supported (this Distill reads version {VERSION})", path)
        for key in ("fingerprint", "spectrogram", "model"):
            if key not in d:
                raise ModelFileError(f"model metadata lacks '{key}' (file damaged?)", path)
        if not isinstance(d["fingerprint"], str):
            raise ModelFileError(f"model metadata: 'fingerprint' must be a string, got {d['fingerprint']!r:.40}", path)
        spec, spec_extra = _config(SpectrogramConfig, d["spectrogram"], "spectrogram", path)
        model, model_extra = _config(ModelConfig, d["model"], "model", path)
        version_tag = d.get("distill_tui_version")
        if version_tag is not None and not isinstance(version_tag, str):
            raise ModelFileError("model metadata: 'distill_tui_version' must be a string", path)
        perceptual, extra = None, {k: v for k, v in d.items() if k not in cls.TOP}
        if d.get("perceptual") is not None:
            try:
                perceptual = PerceptualCache.from_dict(d["perceptual"], "perceptual", path)
            except ModelFileError:  # a cache of another shape (a newer Distill's): kept as it was, not used
                extra["perceptual"] = d["perceptual"]
        return cls(
            fingerprint=d["fingerprint"], spectrogram=spec, model=model,
            dataset=DatasetSummary.from_dict(d.get("dataset") or {}, "dataset", path),
            training=TrainingSummary.from_dict(d.get("training") or {}, "training", path),
            health=None if d.get("health") is None else HealthSummary.from_dict(d["health"], "health", path),
            prior=None if d.get("prior") is None else PriorSummary.from_dict(d["prior"], "prior", path),
            masked_prior=None if d.get("masked_prior") is None else MaskedPriorSummary.from_dict(
                d["masked_prior"], "masked_prior", path),
            perceptual=perceptual, distill_tui_version=version_tag, format=FORMAT, version=version, extra=extra,
            spectrogram_extra=spec_extra, model_extra=model_extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in the file (a fresh copy; unknown keys included)."""
        out: dict[str, Any] = {**_plain(self.extra)}
        out.update({
            "format": self.format, "version": self.version, "fingerprint": self.fingerprint,
            "spectrogram": {**_plain(self.spectrogram_extra), **to_dict(self.spectrogram)},
            "model": {**_plain(self.model_extra), **to_dict(self.model)},
            "dataset": self.dataset.to_dict(), "training": self.training.to_dict(),
            "health": None if self.health is None else self.health.to_dict(),
            "prior": None if self.prior is None else self.prior.to_dict(),
        })
        if self.perceptual is not None:
            out["perceptual"] = self.perceptual.to_dict()
        if self.distill_tui_version is not None:
            out["distill_tui_version"] = self.distill_tui_version
        if self.masked_prior is not None:
            out["masked_prior"] = self.masked_prior.to_dict()
        return out

    @property
    def sample_rate(self) -> int:
        """The model's sample rate (Hz)."""
        return self.spectrogram.sample_rate

    @property
    def codebook_sizes(self) -> list[int]:
        """One codebook size per level (a copy)."""
        return list(self.model.codebook_sizes)

    @property
    def counts(self) -> list[list[int]] | None:
        """Per level, how often each code was used over the training data; None when not measured."""
        return None if self.health is None else self.health.counts

    @property
    def trainer(self) -> dict[str, Any]:
        """A training checkpoint's private resume state (train/vqvae_loop.py); empty in a finished model."""
        state = self.extra.get("trainer")
        return dict(state) if isinstance(state, dict) else {}


def health_of(doc: ModelDocument | Mapping[str, Any] | None) -> HealthSummary | None:
    """The health section of a typed document or of a plain one (a Codec's `doc`); None when absent."""
    if isinstance(doc, ModelDocument):
        return doc.health
    if not isinstance(doc, Mapping) or doc.get("health") is None:
        return None
    return HealthSummary.from_dict(doc["health"], "health")

