"""`eval`: reconstruction quality of model + Griffin-Lim against the oracle ceilings, per file and overall.

Every file is scored two ways (docs/architecture.md, "Metrics"; `analysis/quality.py`):

- full band (the headline): against the original read again at its own rate, the decode (and each oracle's
  audio, both made at the model's rate as the pipeline makes them) resampled there (`audio.resample`, band-preserving); files above
  48 kHz are scored at 48 kHz. A band the model's rate cannot hold is charged.
- band-limited: against the original resampled to the model's rate (the scan's samples), as `eval` scored
  before: a model is not charged for what lies above half its rate.

The two are not on one scale: over the full band of a 44.1 kHz file the LSD averages over twice the bins, and
bins where the original too is below the floor (80 dB under its loudest bin) count as no error, so a sound with
nothing above half the model's rate can score lower full band than band-limited. The gap measures a lost band
only where the original has one (a hi-hat: 11 dB band-limited, 24-28 dB full band; bench/RESULTS.md).

Each decode's onsets are also set against the original's at the full-band scoring rate (`analysis/onsets.py`):
per file, and as medians over drum loops, one-shots and the swells of pads (`ONSET_RULE`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..audio.spectrogram import from_db, griffin_lim, magnitude_db, to_relative_db
from ..config import SpectrogramConfig
from ..data.dataset import SoundFile, load_named_audio, split
from ..errors import printable
from ..model.vqvae import VQVAE
from ..persistence.document import ModelDocument
from .onsets import SHARP, OnsetError, onset_error
from .quality import QualityResult, full_band_measure, full_band_pair, measure, oracle_audio, scoring_rate

WHICH = ("model", "oracle_linear", "oracle_mel")
METRICS = ("lsd_db", "mrstft", "mel_db")


@dataclass
class Scores:
    """One sound's reconstructions scored one way (an oracle is None when not run)."""

    model: QualityResult
    oracle_linear: QualityResult | None = None
    oracle_mel: QualityResult | None = None


@dataclass
class FileScore:
    """One file: its own rate, the rate it was scored at over the full band, and both scorings."""

    path: str  # printable (errors.printable)
    rate: int  # the file's own sample rate
    scored_at: int  # the full-band scoring rate: `rate`, or 48,000 above it
    full_band: Scores
    band_limited: Scores  # against the original at the model's rate
    held_out: bool | None = None  # None: not known (the model held no files out, or the split is unknown)
    onsets: OnsetError | None = None  # the decode's onsets against the original's, at the full-band scoring rate

    @property
    def model(self) -> QualityResult:
        """The model's full-band scores."""
        return self.full_band.model

    @property
    def oracle_linear(self) -> QualityResult | None:
        """The linear-magnitude oracle's full-band scores."""
        return self.full_band.oracle_linear

    @property
    def oracle_mel(self) -> QualityResult | None:
        """The mel (NNLS) oracle's full-band scores."""
        return self.full_band.oracle_mel


def _scores(f: FileScore, band_limited: bool) -> Scores:
    return f.band_limited if band_limited else f.full_band


@dataclass
class EvalReport:
    files: list[FileScore]
    seconds: float
    sample_rate: int = 0  # the model's
    health: dict | None = None
    extra: dict = field(default_factory=dict)

    def mean(self, which: str, metric: str, band_limited: bool = False, files: list[FileScore] | None = None) -> float:
        """The mean of `metric` for `which` ("model", "oracle_linear" or "oracle_mel") over the files (or
        `files`), full band unless `band_limited`. Each file weighs alike."""
        chosen = self.files if files is None else files
        return float(statistics.fmean(getattr(getattr(_scores(f, band_limited), which), metric) for f in chosen))

    def _block(self, band_limited: bool) -> dict[str, Any]:
        has_oracles = all(f.full_band.oracle_linear is not None for f in self.files)
        out: dict[str, Any] = {}
        for which in WHICH if has_oracles else ("model",):
            out[which] = {m: round(self.mean(which, m, band_limited), 4) for m in METRICS}
        if has_oracles:
            out["ratio_to_linear_oracle"] = round(out["model"]["lsd_db"] / max(out["oracle_linear"]["lsd_db"], 1e-9), 4)
            out["beats_mel_oracle"] = out["model"]["lsd_db"] < out["oracle_mel"]["lsd_db"]
        return out

    def summary(self) -> dict[str, Any]:
        """Full-band means per reconstruction (each with its band-limited LSD as `lsd_db_band_limited`), the
        ratio to the linear oracle, whether the model beats the mel oracle, and the same band-limited under
        "band_limited"; with a known split, "held_out" and "trained" means."""
        out = self._block(band_limited=False)
        limited = self._block(band_limited=True)
        for which in WHICH:
            if which in out:
                out[which]["lsd_db_band_limited"] = limited[which]["lsd_db"]
        out["band_limited"] = {**limited, "sample_rate": self.sample_rate}
        out.update(self.split_means())
        return out

    def split_means(self) -> dict[str, dict[str, Any]]:
        """{"held_out": {...}, "trained": {...}} (files, model LSD full band and band-limited), or {} when
        which files were held out is not known."""
        if not self.files or any(f.held_out is None for f in self.files):
            return {}
        out = {}
        for name, flag in (("held_out", True), ("trained", False)):
            chosen = [f for f in self.files if f.held_out is flag]
            out[name] = {"files": len(chosen),
                         "lsd_db": round(self.mean("model", "lsd_db", files=chosen), 4) if chosen else None,
                         "lsd_db_band_limited": round(self.mean("model", "lsd_db", True, chosen), 4) if chosen else None}
        return out

    def per_file(self) -> list[dict[str, Any]]:
        """One row per file: path (printable), own rate, rate scored at, the model's and the oracles' LSD full
        band (`lsd_db`, `oracle_lsd_db`, `mel_oracle_lsd_db`) and band-limited (`..._band_limited`)."""
        rows = []
        for f in self.files:
            row: dict[str, Any] = {"path": f.path, "rate": f.rate, "scored_at": f.scored_at}
            for key, which in (("lsd_db", "model"), ("oracle_lsd_db", "oracle_linear"), ("mel_oracle_lsd_db", "oracle_mel")):
                full, limited = getattr(f.full_band, which), getattr(f.band_limited, which)
                if full is not None:
                    row[key] = round(full.lsd_db, 3)
                    row[f"{key}_band_limited"] = round(limited.lsd_db, 3)
            if f.held_out is not None:
                row["held_out"] = f.held_out
            row.update(_onset_row(f))
            rows.append(row)
        return rows

    def onset_summary(self) -> dict[str, Any]:
        """Onset error by kind of file (`onset_groups`): for "loops", "one_shots" and "swells", the files, the median over
        them of each file's median |onset time difference| (ms; files where no onset matched are left out of it)
        and the median share of onsets matched."""
        out: dict[str, Any] = {"rule": ONSET_RULE}
        for name, chosen in onset_groups(self.files).items():
            ms = [f.onsets.median_ms for f in chosen if f.onsets is not None and f.onsets.median_ms is not None]
            hits = [f.onsets.hits for f in chosen if f.onsets is not None]
            out[name] = {"files": len(chosen), "median_ms": round(statistics.median(ms), 2) if ms else None,
                         "hits": round(statistics.median(hits), 3) if hits else None}
        return out


# ---- onsets (issue 13, "Sharper time"; analysis/onsets.py) -------------------------------------------------------

LOOP_ONSETS = 4  # a file whose original has at least this many onsets counts as a loop, when they are attacks
ONSET_RULE = (f"loops: files whose original has {LOOP_ONSETS} or more onsets, attacks standing {SHARP:g}x or more "
              f"out of the onset strength's median; one-shots: 1 to {LOOP_ONSETS - 1} onsets; swells: {LOOP_ONSETS} "
              "or more softer onsets (pads, strings); files without onsets are left out")


def onset_groups(files: list[FileScore]) -> dict[str, list[FileScore]]:
    """{"loops": [...], "one_shots": [...], "swells": [...]} by the count of onsets found in each original and how
    sharp they are (`ONSET_RULE`). By count alone, 8 pads and strings of pads-drums-50 whose swells read as 5-100
    onsets were "loops", and their 10-23 ms put the loops' median at 10.7 ms where its 6 drum loops read 1.4-4.2."""
    counted = [(f, f.onsets.original if f.onsets is not None else 0) for f in files]

    def sharp(f: FileScore) -> bool:
        return f.onsets is not None and f.onsets.sharpness is not None and f.onsets.sharpness >= SHARP

    return {"loops": [f for f, n in counted if n >= LOOP_ONSETS and sharp(f)],
            "one_shots": [f for f, n in counted if 1 <= n < LOOP_ONSETS],
            "swells": [f for f, n in counted if n >= LOOP_ONSETS and not sharp(f)]}


def _onset_row(f: FileScore) -> dict[str, Any]:
    """A per-file row's onset keys: `onsets` (found in the original), `onset_ms` (median |difference|, None when
    none matched) and `onset_hits` (share matched); nothing when the original has no onsets."""
    if f.onsets is None or f.onsets.original == 0:
        return {}
    ms = f.onsets.median_ms
    sharp = f.onsets.sharpness
    return {"onsets": f.onsets.original, "onset_ms": None if ms is None else round(ms, 2),
            "onset_hits": round(f.onsets.hits, 3), "onset_sharpness": None if sharp is None else round(sharp, 1)}


Reconstruct = Callable[[SoundFile], np.ndarray]


def model_reconstructor(model: VQVAE, spec: SpectrogramConfig, device: str = "cpu", quantize: bool = True) -> Reconstruct:
    """Audio -> relative dB -> model (codes, or the continuous latent) -> Griffin-Lim -> audio (model's rate)."""

    @torch.no_grad()
    def run(f: SoundFile) -> np.ndarray:
        model.eval()
        x = torch.from_numpy(f.samples)[None].to(device)
        db = model.pad_frames(to_relative_db(magnitude_db(x, spec), spec.floor_db, f.ref_db))
        if quantize:
            pred = model.decode(model.encode(db))
        else:
            pred = model.reconstruct_continuous(db)
        mag = from_db(pred, spec.floor_db) * 10 ** (f.ref_db / 20)
        n = (pred.shape[-1] - 1) * spec.hop_length
        audio = griffin_lim(mag, spec.n_fft, spec.hop_length, iters=spec.griffin_lim_iters,
                            momentum=spec.griffin_lim_momentum, length=n).audio[0]
        return audio[: len(f.samples)].cpu().numpy()

    return run


def _score_file(f: SoundFile, decoded: np.ndarray, spec: SpectrogramConfig, with_oracle: bool,
                max_file_seconds: float) -> FileScore:
    """Score one decode (and the oracles') full band and band-limited, and the decode's onsets at the full-band
    scoring rate."""
    own = load_named_audio(f.path, None, max_seconds=max_file_seconds)  # the original at its own rate, mono
    rate = spec.sample_rate
    outputs = {"model": decoded}
    if with_oracle:
        outputs["oracle_linear"], outputs["oracle_mel"] = oracle_audio(
            f.samples, rate, spec.n_fft, spec.hop_length, spec.griffin_lim_iters, spec.griffin_lim_momentum)
    full = Scores(**{k: full_band_measure(own.samples, own.sample_rate, v, rate) for k, v in outputs.items()})
    limited = Scores(**{k: measure(f.samples, v, rate) for k, v in outputs.items()})
    onsets = onset_error(*full_band_pair(own.samples, own.sample_rate, decoded, rate))
    return FileScore(printable(f.path), own.sample_rate, scoring_rate(own.sample_rate), full, limited, onsets=onsets)


def evaluate(files: list[SoundFile], reconstruct: Reconstruct, spec: SpectrogramConfig, with_oracle: bool = True, *,
             max_file_seconds: float = 600.0, held_out: Collection[str] | None = None) -> EvalReport:
    """Reconstruct every file and score it full band and band-limited (with `with_oracle`, the two oracle
    ceilings too). `files` come from `data.dataset.scan` without silence trimming; each original is read again at
    its own rate, up to `max_file_seconds` as the scan read it. `held_out`: the content digests of the files the
    model never trained on (each file is then marked held out or not); None when unknown."""
    t0 = time.time()
    scores = []
    for f in files:
        score = _score_file(f, reconstruct(f), spec, with_oracle, max_file_seconds)
        if held_out is not None:
            score.held_out = f.digest in held_out
        scores.append(score)
    return EvalReport(files=scores, seconds=time.time() - t0, sample_rate=spec.sample_rate)


def held_out_digests(doc: ModelDocument, files: list[SoundFile]) -> tuple[set[str] | None, dict[str, Any]]:
    """Which of `files` the model never trained on (content digests), and how that was found out.

    Only `--holdout files` holds whole files out. A model file records their content digests
    (`dataset.held_out`), so they are found by content wherever they are. One written before it did records only
    the mode, the seed and how many files the training scanned: the split is recomputed as the trainer made it
    (`data.dataset.split`: files ordered by content digest, shuffled with the training seed, the first ~10 %
    held out). That is right only when `files` are the files the model trained on: with another count it is not
    attempted. Returns (digests or None, {"holdout", "note"})."""
    tc = doc.training.train
    mode = tc.holdout if tc is not None else None
    if tc is None or mode != "files":
        why = "not recorded in the model file" if tc is None else f"--holdout {mode}: no whole files were held out"
        return None, {"holdout": mode, "note": why}
    if doc.dataset.held_out:
        recorded = set(doc.dataset.held_out)
        here = sum(f.digest in recorded for f in files)
        note = f"recorded in the model file: {here} of the {len(recorded)} files held out are in this folder"
        if len(files) != doc.dataset.files:
            note += (f"; the training scanned {doc.dataset.files} files and this folder has {len(files)}: every file "
                     "not held out counts as trained on")
        return recorded, {"holdout": mode, "note": note}
    if doc.dataset.files != len(files):
        return None, {"holdout": mode, "note": f"the model trained on {doc.dataset.files} files and this folder has "
                      f"{len(files)}: which were held out cannot be recomputed"}
    sp = split(files, 0, seed=tc.seed, holdout="files")
    if not sp.by_file:
        return None, {"holdout": mode, "note": "too few files for a split by file: the trainer held out crops instead"}
    note = (f"recomputed: the model file does not record which files were held out, so the trainer's split was "
            f"redone (files ordered by content digest, shuffled with seed {tc.seed}, the first {len(sp.val)} held "
            f"out); right only if these are the {len(files)} files the model trained on")
    return {f.digest for f in sp.val}, {"holdout": mode, "note": note}
