"""Encode audio into a `CodeGrid` and decode a grid back to audio (model + Griffin-Lim)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio.spectrogram import from_db, griffin_lim, magnitude_db, to_relative_db
from ..codes.grid import CodeGrid
from ..config import ModelConfig, SpectrogramConfig, from_dict
from ..data.dataset import load_named_audio
from ..errors import AudioError, ModelFileError, printable
from ..model.vqvae import VQVAE
from ..persistence.model_file import ModelFile, load_model_file

PEAK = 10 ** (-1 / 20)  # sounds are peak-normalized to -1 dBFS before encoding


@dataclass
class DecodeResult:
    audio: np.ndarray  # (N,) float32 at the model's sample rate
    db: np.ndarray  # (F, T) relative dB the decoder predicted (the spectrogram the TUI draws)
    phase: torch.Tensor  # (F, T) complex unit phase after Griffin-Lim (warm-starts a partial re-decode)


def build_vqvae(mf: ModelFile, path: str | Path | None = None) -> tuple[VQVAE, SpectrogramConfig]:
    """Rebuild the RVQ-VAE from a model file's configs and weights."""
    try:
        spec = from_dict(SpectrogramConfig, mf.doc["spectrogram"])
        cfg = from_dict(ModelConfig, mf.doc["model"])
        model = VQVAE(cfg, floor_db=spec.floor_db)
        model.load_state_dict(mf.group("vqvae"), strict=True)
    except (RuntimeError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"weights do not fit the stored config ({str(exc).splitlines()[0][:120]})", path) from exc
    model.eval()
    return model, spec


class Codec:
    """A loaded model, ready to encode and decode. All work runs under `torch.no_grad()`."""

    def __init__(self, model: VQVAE, spec: SpectrogramConfig, fingerprint: str, doc: dict | None = None, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.spec = spec
        self.fingerprint = fingerprint
        self.doc = doc or {}
        self.device = device
        self.default_ref_db = float(self.doc.get("dataset", {}).get("median_ref_db", 40.0))

    @property
    def cfg(self) -> ModelConfig:
        return self.model.cfg

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.cfg.codebook_sizes)

    def _grid(self, codes: np.ndarray, name: str, source: dict) -> CodeGrid:
        return CodeGrid(
            codes=codes, model_fingerprint=self.fingerprint, codebook_sizes=self.codebook_sizes,
            sample_rate=self.spec.sample_rate, hop_length=self.spec.hop_length, stride=self.cfg.stride,
            name=name, source=source,
        )

    @torch.no_grad()
    def encode_samples(self, samples: np.ndarray, name: str = "untitled", source: dict | None = None) -> CodeGrid:
        """Mono float32 audio at the model's rate -> grid (levels, ceil(frames / stride))."""
        peak = float(np.abs(samples).max()) if len(samples) else 0.0
        if peak <= 1e-5:
            raise AudioError("the sound is silent: nothing to encode", (source or {}).get("file"))
        x = torch.from_numpy(np.ascontiguousarray(samples * (PEAK / peak), dtype=np.float32))[None].to(self.device)
        db = magnitude_db(x, self.spec)
        ref = float(db.max())
        codes = self.model.encode(to_relative_db(db, self.spec.floor_db, ref))[0].cpu().numpy()
        src = {"samples": int(len(samples)), "ref_db": ref, "gain_db": 20 * np.log10(peak / PEAK), **(source or {})}
        return self._grid(codes, name, src)

    def encode_file(self, path: str | Path) -> CodeGrid:
        """Encode an audio file; any name works, and the grid stores it in printable form (`printable`)."""
        path = Path(path)
        audio = load_named_audio(path, self.spec.sample_rate)
        return self.encode_samples(audio.samples, name=printable(path.stem), source={"file": printable(path)})

    @torch.no_grad()
    def decode_db(self, codes: np.ndarray, muted: list[int] | tuple[int, ...] = ()) -> torch.Tensor:
        """codes (Q, P) -> relative dB (F, P * stride); muted levels (0-based) are left out."""
        idx = torch.as_tensor(np.asarray(codes), dtype=torch.long, device=self.device)[None]  # (1, Q, P)
        return self.model.decode(idx, muted=tuple(muted))[0]

    @torch.no_grad()
    def db_to_audio(
        self, db: torch.Tensor, ref_db: float | None = None, gain_db: float = 0.0, length: int | None = None,
        phase: torch.Tensor | None = None, iters: int | None = None,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Relative dB (F, T) -> audio (N,) via fast Griffin-Lim, at the source's level."""
        scale = 10 ** (((self.default_ref_db if ref_db is None else ref_db) + gain_db) / 20)
        mag = from_db(db, self.spec.floor_db)[None] * scale
        n = (db.shape[-1] - 1) * self.spec.hop_length
        gl = griffin_lim(
            mag, self.spec.n_fft, self.spec.hop_length, iters=self.spec.griffin_lim_iters if iters is None else iters,
            momentum=self.spec.griffin_lim_momentum, length=n, phase=None if phase is None else phase[None],
        )
        audio = gl.audio[0].cpu().numpy().astype(np.float32)
        if length is not None:
            audio = audio[:length]
        peak = float(np.abs(audio).max()) if len(audio) else 0.0
        if peak > 0.999:  # never clip
            audio *= 0.999 / peak
        return audio, gl.phase[0]

    def decode(self, grid: CodeGrid, muted: list[int] | tuple[int, ...] = (), iters: int | None = None) -> DecodeResult:
        grid.check_model(self.fingerprint, self.codebook_sizes)
        db = self.decode_db(grid.codes, muted)
        src = grid.source or {}
        audio, phase = self.db_to_audio(db, src.get("ref_db"), float(src.get("gain_db", 0.0)), src.get("samples"), iters=iters)
        return DecodeResult(audio=audio, db=db.cpu().numpy(), phase=phase)


def load_codec(path: str | Path, device: str = "cpu") -> Codec:
    mf = load_model_file(path)
    if not mf.doc["model"].get("quantize", True):
        raise ModelFileError("this is a continuous-baseline model: it has no codes to encode or decode", path)
    model, spec = build_vqvae(mf, path)
    return Codec(model, spec, mf.fingerprint, mf.doc, device)
