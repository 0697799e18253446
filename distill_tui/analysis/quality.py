"""Reconstruction metrics, one definition each (docs/architecture.md, "Metrics"), and the oracle ceilings."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..audio.spectrogram import griffin_lim, mel_filterbank, mel_to_linear_nnls, stft

_EPS = 1e-10


@dataclass
class QualityResult:
    """Distances between an original and a decoded sound (lower is better)."""

    lsd_db: float  # log-spectral distance
    mrstft: float  # multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged)
    mel_db: float  # mean absolute difference of log mel power, dB

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x).float()
    return t.reshape(-1)


def _align(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(len(ref), len(est))
    ref, est = ref[:n], est[:n]
    rms_ref = ref.pow(2).mean().sqrt()
    rms_est = est.pow(2).mean().sqrt()
    if rms_est > 0:
        est = est * (rms_ref / rms_est)
    return ref, est


def log_spectral_distance(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor) -> float:
    """LSD in dB: 1024-point Hann STFT, hop 256; the estimate's RMS matched to the reference's; both
    power spectra floored at 80 dB below the reference's loudest bin; per-frame RMS over bins of
    the dB difference, averaged over frames."""
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    p_ref = stft(ref[None], 1024, 256).abs().pow(2)[0]
    p_est = stft(est[None], 1024, 256).abs().pow(2)[0]
    floor = p_ref.max().clamp_min(_EPS) * 1e-8
    d = 10 * torch.log10(p_ref.clamp_min(floor)) - 10 * torch.log10(p_est.clamp_min(floor))  # (F, T)
    return float(d.pow(2).mean(dim=0).sqrt().mean())


def multi_resolution_stft(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor) -> float:
    """Spectral convergence + log-magnitude L1, averaged over FFT sizes 512, 1024, 2048 (hop = n/4)."""
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    total = 0.0
    for n_fft in (512, 1024, 2048):
        m_ref = stft(ref[None], n_fft, n_fft // 4).abs()[0]
        m_est = stft(est[None], n_fft, n_fft // 4).abs()[0]
        sc = torch.linalg.norm(m_ref - m_est) / torch.linalg.norm(m_ref).clamp_min(_EPS)
        mag = (torch.log(m_ref.clamp_min(1e-5)) - torch.log(m_est.clamp_min(1e-5))).abs().mean()
        total += float(sc + mag)
    return total / 3


_FBANKS: dict[tuple[int, int, int], torch.Tensor] = {}


def _fbank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    key = (sample_rate, n_fft, n_mels)
    if key not in _FBANKS:
        _FBANKS[key] = mel_filterbank(sample_rate, n_fft, n_mels)
    return _FBANKS[key]


def mel_distance(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor, sample_rate: int) -> float:
    """Mean |dB difference| of 128-bin mel power spectra (1024-point STFT, hop 256), floored at -80 dB."""
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    fb = _fbank(sample_rate, 1024, 128)
    m_ref = fb @ stft(ref[None], 1024, 256).abs().pow(2)[0]
    m_est = fb @ stft(est[None], 1024, 256).abs().pow(2)[0]
    floor = m_ref.max().clamp_min(_EPS) * 1e-8
    return float((10 * torch.log10(m_ref.clamp_min(floor)) - 10 * torch.log10(m_est.clamp_min(floor))).abs().mean())


def measure(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor, sample_rate: int) -> QualityResult:
    """All three distances between a reference and an estimate."""
    return QualityResult(
        lsd_db=log_spectral_distance(reference, estimate),
        mrstft=multi_resolution_stft(reference, estimate),
        mel_db=mel_distance(reference, estimate, sample_rate),
    )


@dataclass
class OracleResult:
    """The ceilings: the same Griffin-Lim on exact spectrograms of the original (no model)."""

    linear: QualityResult  # from the exact linear magnitude
    mel: QualityResult  # from a 128-bin mel spectrogram inverted by non-negative least squares


def oracle(
    audio: np.ndarray | torch.Tensor, sample_rate: int, n_fft: int, hop: int, iters: int = 32, momentum: float = 0.99
) -> OracleResult:
    """The ceilings: the sound rebuilt by Griffin-Lim from its own linear magnitude, and from its 128-bin mel."""
    x = _as_tensor(audio)[None]
    spec = stft(x, n_fft, hop)
    mag = spec.abs()
    lin = griffin_lim(mag, n_fft, hop, iters=iters, momentum=momentum, length=x.shape[1]).audio[0]
    fb = _fbank(sample_rate, n_fft, 128)
    mel_power = fb @ mag.pow(2)
    mag_from_mel = mel_to_linear_nnls(mel_power, fb).sqrt()
    mel = griffin_lim(mag_from_mel, n_fft, hop, iters=iters, momentum=momentum, length=x.shape[1]).audio[0]
    return OracleResult(linear=measure(x[0], lin, sample_rate), mel=measure(x[0], mel, sample_rate))
