"""Reconstruction metrics, one definition each (docs/architecture.md, "Metrics"), and the oracle ceilings.

Two ways of scoring a decode (`analysis/evaluate.py` reports both):

- band-limited: against the original resampled to the model's rate (`measure(original, decoded, model_rate)`);
  a band the model's rate cannot hold is not charged;
- full band: against the original at its own rate, the decode resampled there (`audio.resample`, band-preserving)
  (`full_band_measure`); files above 48 kHz are scored at 48 kHz (both resampled there).

Every scoring STFT scales with the rate it runs at: a Hann window of about 46 ms (`stft_size`: 1024/256 at
22.05-24 kHz, 2048/512 at 44.1-48 kHz), so a figure means the same time resolution at any rate. The
multi-resolution STFT distance uses half, once and twice that size (512, 1024, 2048 at 22.05 kHz, as before);
the mel distance keeps 128 mel bins over 0 Hz to half the rate, on the scaled STFT. `log_spectral_distance`
without a rate keeps the fixed 1024/256 of its older callers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..audio.io import resample
from ..audio.spectrogram import griffin_lim, mel_filterbank, mel_to_linear_nnls, stft

_EPS = 1e-10
WINDOW_SECONDS = 0.0464  # the scoring STFT's window: 1024 samples at 22,050 Hz
MAX_SCORING_RATE = 48000  # files above this rate (88.2, 96 kHz) are scored at this rate

Audio = np.ndarray | torch.Tensor


def stft_size(sample_rate: int | None) -> tuple[int, int]:
    """(n_fft, hop) of the scoring STFT at `sample_rate`: the power of two nearest (on a linear scale)
    `WINDOW_SECONDS` × rate, hop a quarter of it. 22,050-24,000 Hz: 1024/256; 44,100-48,000 Hz: 2048/512;
    96,000 Hz: 4096/1024. None: 1024/256, whatever the rate."""
    if sample_rate is None:
        return 1024, 256
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    target = WINDOW_SECONDS * sample_rate
    low = 2 ** max(int(np.floor(np.log2(max(target, 1.0)))), 4)  # at least 16 samples
    n_fft = low if target - low <= 2 * low - target else 2 * low
    return n_fft, n_fft // 4


def scoring_rate(file_rate: int) -> int:
    """The rate a file is scored at over the full band: its own, or `MAX_SCORING_RATE` above that."""
    return min(int(file_rate), MAX_SCORING_RATE)


@dataclass
class QualityResult:
    """Distances between an original and a decoded sound (lower is better)."""

    lsd_db: float  # log-spectral distance
    mrstft: float  # multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged)
    mel_db: float  # mean absolute difference of log mel power, dB

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _as_tensor(x: Audio) -> torch.Tensor:
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


def log_spectral_distance(reference: Audio, estimate: Audio, sample_rate: int | None = None) -> float:
    """LSD in dB: Hann STFT of `stft_size(sample_rate)` (1024/256 when no rate is given); the estimate's RMS
    matched to the reference's (both cut to the shorter); both power spectra floored at 80 dB below the
    reference's loudest bin; per-frame RMS over bins of the dB difference, averaged over frames.
    Both signals must be at `sample_rate`: nothing is resampled here (see `full_band_lsd`)."""
    n_fft, hop = stft_size(sample_rate)
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    p_ref = stft(ref[None], n_fft, hop).abs().pow(2)[0]
    p_est = stft(est[None], n_fft, hop).abs().pow(2)[0]
    floor = p_ref.max().clamp_min(_EPS) * 1e-8
    d = 10 * torch.log10(p_ref.clamp_min(floor)) - 10 * torch.log10(p_est.clamp_min(floor))  # (F, T)
    return float(d.pow(2).mean(dim=0).sqrt().mean())


def multi_resolution_stft(reference: Audio, estimate: Audio, sample_rate: int | None = None) -> float:
    """Spectral convergence + log-magnitude L1, averaged over three FFT sizes (hop = n/4): half, once and
    twice `stft_size(sample_rate)`, so 512, 1024, 2048 at 22.05-24 kHz or without a rate, 1024, 2048, 4096
    at 44.1-48 kHz."""
    base, _ = stft_size(sample_rate)
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    total = 0.0
    for n_fft in (base // 2, base, base * 2):
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


def mel_distance(reference: Audio, estimate: Audio, sample_rate: int) -> float:
    """Mean |dB difference| of 128-bin mel power spectra (0 Hz to half the rate) on the STFT of
    `stft_size(sample_rate)` (1024/256 at 22.05-24 kHz, 2048/512 at 44.1-48 kHz), both floored at 80 dB
    below the reference's loudest mel bin."""
    n_fft, hop = stft_size(sample_rate)
    ref, est = _align(_as_tensor(reference), _as_tensor(estimate))
    fb = _fbank(sample_rate, n_fft, 128)
    m_ref = fb @ stft(ref[None], n_fft, hop).abs().pow(2)[0]
    m_est = fb @ stft(est[None], n_fft, hop).abs().pow(2)[0]
    floor = m_ref.max().clamp_min(_EPS) * 1e-8
    return float((10 * torch.log10(m_ref.clamp_min(floor)) - 10 * torch.log10(m_est.clamp_min(floor))).abs().mean())


def measure(reference: Audio, estimate: Audio, sample_rate: int) -> QualityResult:
    """All three distances between a reference and an estimate, both at `sample_rate`, on STFTs scaled to it."""
    return QualityResult(
        lsd_db=log_spectral_distance(reference, estimate, sample_rate),
        mrstft=multi_resolution_stft(reference, estimate, sample_rate),
        mel_db=mel_distance(reference, estimate, sample_rate),
    )


def _to_numpy(x: Audio) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32).reshape(-1)


def full_band_pair(original: Audio, original_rate: int, decoded: Audio, decoded_rate: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(original, decoded, rate) ready to be scored over the full band: the decode resampled (`audio.resample`) to the
    original's own rate, and both resampled to `MAX_SCORING_RATE` when the original is faster than that."""
    rate = scoring_rate(original_rate)
    ref = resample(_to_numpy(original), int(original_rate), rate)
    est = resample(_to_numpy(decoded), int(decoded_rate), rate)
    return ref, est, rate


def full_band_measure(original: Audio, original_rate: int, decoded: Audio, decoded_rate: int) -> QualityResult:
    """`measure` over the full band: the decode (at `decoded_rate`, e.g. the model's) against the original at
    its own rate (`full_band_pair`), with the STFTs of the rate scored at."""
    ref, est, rate = full_band_pair(original, original_rate, decoded, decoded_rate)
    return measure(ref, est, rate)


def full_band_lsd(reference: Audio, estimate: Audio, sample_rate: int) -> float:
    """The full-band LSD of two signals both at `sample_rate` (a file's own rate): scored there with the STFT of
    `stft_size(sample_rate)`, or at `MAX_SCORING_RATE` (both resampled) when the rate is above it."""
    ref, est, rate = full_band_pair(reference, sample_rate, estimate, sample_rate)
    return log_spectral_distance(ref, est, rate)


@dataclass
class OracleResult:
    """The ceilings: the same Griffin-Lim on exact spectrograms of the original (no model)."""

    linear: QualityResult  # from the exact linear magnitude
    mel: QualityResult  # from a 128-bin mel spectrogram inverted by non-negative least squares


def oracle_audio(
    audio: Audio, sample_rate: int, n_fft: int, hop: int, iters: int = 28, momentum: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The oracles' audio at `sample_rate` (the pipeline's STFT `n_fft`/`hop`): the sound rebuilt by Griffin-Lim
    from its own linear magnitude, and from its 128-bin mel power inverted by non-negative least squares."""
    x = _as_tensor(audio)[None]
    spec = stft(x, n_fft, hop)
    mag = spec.abs()
    lin = griffin_lim(mag, n_fft, hop, iters=iters, momentum=momentum, length=x.shape[1]).audio[0]
    fb = _fbank(sample_rate, n_fft, 128)
    mel_power = fb @ mag.pow(2)
    mag_from_mel = mel_to_linear_nnls(mel_power, fb).sqrt()
    mel = griffin_lim(mag_from_mel, n_fft, hop, iters=iters, momentum=momentum, length=x.shape[1]).audio[0]
    return lin.cpu().numpy(), mel.cpu().numpy()


def oracle(audio: Audio, sample_rate: int, n_fft: int, hop: int, iters: int = 28, momentum: float = 0.95) -> OracleResult:
    """The ceilings (`oracle_audio`) scored against the sound at `sample_rate` (band-limited to that rate)."""
    lin, mel = oracle_audio(audio, sample_rate, n_fft, hop, iters, momentum)
    x = _to_numpy(audio)
    return OracleResult(linear=measure(x, lin, sample_rate), mel=measure(x, mel, sample_rate))
