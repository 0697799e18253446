"""What each code sounds like: usage, brightness / loudness / noisiness, a 1-D perceptual order, previews, level labels.

Each code of a level is decoded held over a few positions, the other levels at their most typical
(most used) codes; the decoded spectrum gives its spectral centroid (brightness), energy (loudness)
and spectral flatness (noisiness). The perceptual order sorts a level's codes by the mean of the
standardized log-centroid and energy, so "nudge up" means "a little brighter / louder" and colours
can follow the order. Words in descriptions are relative to the level's own codes (tertiles).

Levels are entangled: a residual level's code means something only on top of the levels above it,
so descriptions are taken in the context of typical codes, and level labels are tendencies, not
guarantees. Computed once per model and cached in the model file (tensor group "perceptual" and the
document's `perceptual` section, persistence/document.PerceptualCache); a read-only model file keeps
the data in memory and says so.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import OutputError
from ..persistence.document import ModelDocument, PerceptualCache, PerceptualLevel, health_of
from ..persistence.model_file import ModelFile, load_model_file, save_model_file
from ..threads import torch_threads

VERSION = 1
HOLD_POSITIONS = 8  # a code is described held over this many positions
BRIGHTNESS = ("dark", "mid", "bright")
LOUDNESS = ("soft", "medium", "loud")
NOISINESS = ("tonal", "grainy", "noisy")


@dataclass
class LevelPerception:
    """Per-code data of one level; every array is (K,) over the level's codes."""

    usage: np.ndarray  # int64 count over the training set
    centroid_hz: np.ndarray  # float32 spectral centroid of the decoded code
    energy_db: np.ndarray  # float32 mean power, dB relative to the loudest possible bin
    flatness: np.ndarray  # float32 spectral flatness, 0 (tonal) .. 1 (white noise)
    score: np.ndarray  # float32 position along the perceptual order
    order: np.ndarray  # int64 codes from darkest/softest to brightest/loudest
    descriptions: list[str]  # "bright · loud · noisy", relative to this level's codes
    label: str  # plain-language name of the level ("Structure", "Timbre", "Detail", ...)
    reason: str  # why it got that label

    @property
    def rank(self) -> np.ndarray:
        """rank[code] = its place in `order` (0 = darkest/softest)."""
        r = np.empty_like(self.order)
        r[self.order] = np.arange(len(self.order))
        return r

    def colour_position(self, code: int) -> float:
        """0..1 along the perceptual order, for colour maps."""
        return float(self.rank[code]) / max(len(self.order) - 1, 1)


@dataclass
class PerceptualData:
    fingerprint: str
    levels: list[LevelPerception]
    typical: list[int]  # the most used code of each level (the background the codes are heard against)
    cached: bool = False  # True when read from, or written to, the model file
    note: str = ""  # what the user should know (read-only model file, missing usage counts)

    @property
    def order(self) -> list[np.ndarray]:
        return [lv.order for lv in self.levels]

    @property
    def usage(self) -> list[np.ndarray]:
        return [lv.usage for lv in self.levels]

    @property
    def labels(self) -> list[str]:
        return [lv.label for lv in self.levels]

    def describe(self, level: int, code: int) -> str:
        """The words for one code ("dark · soft · tonal"), relative to its level."""
        return self.levels[level].descriptions[code]


# --------------------------------------------------------------------------------------------------
# computing


@torch.no_grad()
def code_spectra(codec: Any, level: int, typical: list[int], positions: int = HOLD_POSITIONS) -> torch.Tensor:
    """Every code of `level` held over `positions`, others at `typical`: relative dB (K, F, positions * stride)."""
    k = codec.cfg.codebook_sizes[level]
    idx = torch.tensor(typical, dtype=torch.long)[None, :, None].repeat(k, 1, positions)  # (K, Q, H)
    idx[:, level, :] = torch.arange(k)[:, None]
    z = codec.model.quantizer.decode_indices(idx)  # (K, H, D)
    return codec.model.decode_latent(z).clamp(codec.spec.floor_db, 0.0)  # (K, F, H * stride)


def spectral_features(db: torch.Tensor, sample_rate: int, floor_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """db (B, F, T) relative dB -> centroid Hz, energy dB, flatness: (B,) each, over the middle half in time."""
    t = db.shape[-1]
    mid = db[..., t // 4 : t - t // 4] if t >= 4 else db
    power = torch.where(mid <= floor_db + 1e-3, torch.zeros_like(mid), torch.pow(10.0, mid / 10))  # (B, F, T')
    freqs = torch.linspace(0, sample_rate / 2, db.shape[1])[None, :, None]  # (1, F, 1)
    total = power.sum(dim=1)  # (B, T')
    centroid = ((freqs * power).sum(dim=1) / total.clamp_min(1e-20)).mean(dim=-1)
    energy = 10 * torch.log10(power.mean(dim=(1, 2)).clamp_min(1e-12))
    eps = 1e-12
    flat = torch.exp(torch.log(power + eps).mean(dim=1)) / (power.mean(dim=1) + eps)  # (B, T')
    return centroid.numpy().astype(np.float32), energy.numpy().astype(np.float32), flat.mean(dim=-1).numpy().astype(np.float32)


def perceptual_score(centroid_hz: np.ndarray, energy_db: np.ndarray) -> np.ndarray:
    """Mean of standardized log-centroid and energy: up = brighter and louder. (K,) float32."""
    def z(x: np.ndarray) -> np.ndarray:
        s = float(x.std())
        return (x - x.mean()) / s if s > 1e-9 else np.zeros_like(x)

    return ((z(np.log2(np.maximum(centroid_hz, 1.0))) + z(energy_db)) / 2).astype(np.float32)


def _tertile_words(values: np.ndarray, words: tuple[str, str, str]) -> list[str]:
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")  # 0..K-1
    third = np.minimum(ranks * 3 // max(len(values), 1), 2)
    return [words[t] for t in third]


def describe_codes(centroid_hz: np.ndarray, energy_db: np.ndarray, flatness: np.ndarray) -> list[str]:
    """"bright · loud · noisy" per code: tertiles of the level's own codes."""
    b, lo, n = (_tertile_words(centroid_hz, BRIGHTNESS), _tertile_words(energy_db, LOUDNESS),
                _tertile_words(flatness, NOISINESS))
    return [f"{x} · {y} · {w}" for x, y, w in zip(b, lo, n, strict=True)]


def level_labels(gains_db: list[float], spreads: list[dict[str, float]]) -> list[tuple[str, str]]:
    """(label, reason) per level from what it adds to the reconstruction and what its codes change.

    The level adding most is "Structure"; a level adding under 5 % of the total is "Detail"; any
    other is named by what differs most between its codes, each spread standardized across levels:
    loudness -> "Dynamics", brightness -> "Timbre", noisiness -> "Texture".
    """
    q = len(gains_db)
    total = sum(max(g, 0.0) for g in gains_db) or 1.0
    share = [max(g, 0.0) / total for g in gains_db]
    keys = ("loudness", "brightness", "noisiness")
    names = {"loudness": "Dynamics", "brightness": "Timbre", "noisiness": "Texture"}
    scale = {k: max(max(s[k] for s in spreads), 1e-9) for k in keys}
    top = int(np.argmax(gains_db)) if q else 0
    out: list[tuple[str, str]] = []
    for i in range(q):
        s = spreads[i]
        dominant = max(keys, key=lambda k: s[k] / scale[k])
        what = (f"its codes differ most in {dominant} (loudness ±{s['loudness']:.1f} dB, brightness "
                f"±{s['brightness']:.2f} octaves, noisiness ±{s['noisiness']:.2f})")
        adds = f"adds {gains_db[i]:.2f} dB ({100 * share[i]:.0f} % of what the levels add)"
        if i == top:
            label = "Structure"
        elif share[i] < 0.05:
            label = "Detail"
        else:
            label = names[dominant]
        out.append((label, f"{adds}; {what}"))
    seen: dict[str, int] = {}
    for i, (label, reason) in enumerate(out):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            out[i] = (f"{label} {seen[label]}", reason)
    return out


def compute_perceptual(codec: Any, doc: ModelDocument | Mapping[str, Any] | None) -> PerceptualData:
    """Decode every code of every level once and derive its data (deterministic for a fixed model).

    `doc` (typed, or a Codec's plain `doc`) gives the usage counts and level gains when it has them.
    About 0.25 s for 3 levels x 64 codes on one core."""
    with torch_threads(1), torch.no_grad():
        return _compute(codec, doc)


def _compute(codec: Any, doc: ModelDocument | Mapping[str, Any] | None) -> PerceptualData:
    cfg, spec = codec.cfg, codec.spec
    notes = []
    health = health_of(doc)
    counts = None if health is None else health.counts
    if not counts or len(counts) != cfg.levels:
        counts = [[0] * k for k in cfg.codebook_sizes]
        notes.append("no usage counts in the model file: usage is unknown")
    usage = [np.asarray(c, dtype=np.int64)[:k] for c, k in zip(counts, cfg.codebook_sizes, strict=True)]
    typical = [int(np.argmax(u)) if u.sum() > 0 else 0 for u in usage]
    feats = []
    for q in range(cfg.levels):
        db = code_spectra(codec, q, typical)  # (K, F, T)
        feats.append(spectral_features(db, spec.sample_rate, spec.floor_db))
    gains = [] if health is None else list(health.level_gain_db)
    if len(gains) != cfg.levels:  # no measurement on the data: fall back to how far a level's codes move the energy
        gains = [float(f[1].std()) for f in feats]
    spreads = [{"loudness": float(e.std()), "brightness": float(np.log2(np.maximum(c, 1.0)).std()),
                "noisiness": float(fl.std())} for c, e, fl in feats]
    labels = level_labels([float(g) for g in gains], spreads)
    levels = []
    for q, (c, e, fl) in enumerate(feats):
        score = perceptual_score(c, e)
        order = np.lexsort((np.arange(len(score)), score)).astype(np.int64)  # ties: lower code first
        levels.append(LevelPerception(usage=usage[q], centroid_hz=c, energy_db=e, flatness=fl, score=score, order=order,
                                      descriptions=describe_codes(c, e, fl), label=labels[q][0], reason=labels[q][1]))
    return PerceptualData(fingerprint=codec.fingerprint, levels=levels, typical=typical, note="; ".join(notes))


# --------------------------------------------------------------------------------------------------
# caching in the model file

_ARRAYS = ("usage", "centroid_hz", "energy_db", "flatness", "score", "order")


def to_model_file(data: PerceptualData) -> tuple[PerceptualCache, dict[str, torch.Tensor]]:
    """The document's part (its `perceptual` section) and the tensor group "perceptual"."""
    meta = PerceptualCache(version=VERSION, hold_positions=HOLD_POSITIONS, typical=list(data.typical), note=data.note,
                           levels=[PerceptualLevel(label=lv.label, reason=lv.reason, descriptions=list(lv.descriptions))
                                   for lv in data.levels])
    tensors = {f"{name}_{q}": torch.from_numpy(np.ascontiguousarray(getattr(lv, name)))
               for q, lv in enumerate(data.levels) for name in _ARRAYS}
    return meta, tensors


def from_model_file(mf: ModelFile) -> PerceptualData | None:
    """The cached data, or None when absent, of another version, or not matching the model."""
    meta, group = mf.document.perceptual, mf.group("perceptual")
    sizes = mf.document.codebook_sizes
    if meta is None or meta.version != VERSION or len(meta.levels) != len(sizes) or len(meta.typical) != len(sizes):
        return None
    try:
        levels = []
        for q, (info, k) in enumerate(zip(meta.levels, sizes, strict=True)):
            arrays = {name: group[f"{name}_{q}"].numpy() for name in _ARRAYS}
            if any(len(a) != k for a in arrays.values()) or len(info.descriptions) != k:
                return None
            levels.append(LevelPerception(**arrays, descriptions=list(info.descriptions), label=info.label,
                                          reason=info.reason))
        return PerceptualData(fingerprint=mf.fingerprint, levels=levels, typical=list(meta.typical), cached=True,
                              note=meta.note)
    except (KeyError, TypeError, ValueError):
        return None


_MEMORY: dict[str, PerceptualData] = {}  # fingerprint -> data that could not be written to its model file


def load_perceptual(path: str | Path, codec: Any = None) -> PerceptualData:
    """The model's perceptual data: from its file, else computed once and written back atomically.

    A model file that cannot be written keeps the data in memory (for this process) and says so in `note`.
    """
    path = Path(path)
    mf = load_model_file(path)
    cached = from_model_file(mf)
    if cached is not None:
        return cached
    if mf.fingerprint in _MEMORY:
        return _MEMORY[mf.fingerprint]
    if codec is None or codec.fingerprint != mf.fingerprint:
        from ..inference.codec import Codec, build_vqvae

        model, spec = build_vqvae(mf, path)
        codec = Codec(model, spec, mf.fingerprint, mf.document)
    data = compute_perceptual(codec, mf.document)
    try:
        write_perceptual(path, data)
        data.cached = True
    except OutputError as exc:
        data.note = "; ".join(x for x in (data.note, f"model file not writable ({exc.reason}): perceptual data kept in memory") if x)
        _MEMORY[mf.fingerprint] = data
    return data


def write_perceptual(path: str | Path, data: PerceptualData) -> None:
    """Add the data to the model file (re-read just before, so nothing written meanwhile is lost)."""
    path = Path(path)
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise OutputError("permission denied", path)
    mf = load_model_file(path)
    if mf.fingerprint != data.fingerprint:
        raise OutputError("the model file changed meanwhile", path)
    meta, tensors = to_model_file(data)
    extra = {k: v for k, v in mf.document.extra.items() if k != "perceptual"}  # a newer cache this one replaces
    doc = dataclasses.replace(mf.document, perceptual=meta, extra=extra)
    save_model_file(path, doc, {**mf.tensors, "perceptual": tensors})


# --------------------------------------------------------------------------------------------------
# previews


@dataclass
class CodePreviews:
    """Short sounds of single codes: the code held over `positions`, other levels at their typical codes.

    Computed on demand (a few ms each) and kept in a small LRU cache, not in the model file.
    """

    codec: Any
    data: PerceptualData
    positions: int = 12
    capacity: int = 256
    _cache: OrderedDict[tuple[int, int], np.ndarray] = field(init=False, default_factory=OrderedDict)

    @torch.no_grad()
    def get(self, level: int, code: int) -> np.ndarray:
        """(N,) float32 audio at the model's rate, with 5 ms fades."""
        key = (level, code)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        codes = np.tile(np.asarray(self.data.typical, dtype=np.int64)[:, None], (1, self.positions))  # (Q, H)
        codes[level] = code
        with torch_threads(1):
            db = self.codec.decode_db(codes)  # (F, H * stride)
            audio, _ = self.codec.db_to_audio(db)
        fade = min(int(0.005 * self.codec.spec.sample_rate), len(audio) // 2)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            audio[:fade] *= ramp
            audio[-fade:] *= ramp[::-1]
        self._cache[key] = audio
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return audio
