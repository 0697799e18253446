"""`eval`: reconstruction quality of model + Griffin-Lim against the oracle ceilings, per file and overall."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio.spectrogram import from_db, griffin_lim, magnitude_db, to_relative_db
from ..config import SpectrogramConfig
from ..data.dataset import SoundFile
from ..model.vqvae import VQVAE
from .quality import QualityResult, measure, oracle


@dataclass
class FileScore:
    path: str
    model: QualityResult
    oracle_linear: QualityResult
    oracle_mel: QualityResult


@dataclass
class EvalReport:
    files: list[FileScore]
    seconds: float
    health: dict | None = None
    extra: dict = field(default_factory=dict)

    def mean(self, which: str, metric: str) -> float:
        """The mean of `metric` for `which` ("model", "oracle_linear" or "oracle_mel") over the files."""
        return float(statistics.fmean(getattr(getattr(f, which), metric) for f in self.files))

    def summary(self) -> dict:
        """Means per reconstruction, the ratio to the linear oracle and whether the model beats the mel oracle."""
        out = {}
        for which in ("model", "oracle_linear", "oracle_mel"):
            out[which] = {m: round(self.mean(which, m), 4) for m in ("lsd_db", "mrstft", "mel_db")}
        out["ratio_to_linear_oracle"] = round(out["model"]["lsd_db"] / max(out["oracle_linear"]["lsd_db"], 1e-9), 4)
        out["beats_mel_oracle"] = out["model"]["lsd_db"] < out["oracle_mel"]["lsd_db"]
        return out


Reconstruct = Callable[[SoundFile], np.ndarray]


def model_reconstructor(model: VQVAE, spec: SpectrogramConfig, device: str = "cpu", quantize: bool = True) -> Reconstruct:
    """Audio -> relative dB -> model (codes, or the continuous latent) -> Griffin-Lim -> audio."""

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


def evaluate(files: list[SoundFile], reconstruct: Reconstruct, spec: SpectrogramConfig, with_oracle: bool = True) -> EvalReport:
    """Reconstruct every file and measure it (and, with `with_oracle`, the two oracle ceilings)."""
    t0 = time.time()
    scores = []
    for f in files:
        decoded = reconstruct(f)
        o = oracle(f.samples, spec.sample_rate, spec.n_fft, spec.hop_length, spec.griffin_lim_iters, spec.griffin_lim_momentum) if with_oracle else None
        scores.append(FileScore(str(f.path), measure(f.samples, decoded, spec.sample_rate),
                                o.linear if o else None, o.mel if o else None))
    return EvalReport(files=scores, seconds=time.time() - t0)
