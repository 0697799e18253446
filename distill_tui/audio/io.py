"""Load, mix down, resample, trim, normalize and save audio (soundfile; resampling in `audio.resample`)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, OutputError
from ..fileio import atomic_path
from .resample import resample

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc", ".opus", ".w64", ".caf"}
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
# WAV format tags of the old Vorbis ACM codec (modes 1, 2, 3 and their "plus" forms): the data chunk is a whole
# Ogg Vorbis stream. libsndfile refuses the 'fmt ' chunk but reads the stream itself. LMMS ships such files.
OGG_IN_WAV_TAGS = frozenset({0x674F, 0x6750, 0x6751, 0x676F, 0x6770, 0x6771})


@dataclass
class LoadedAudio:
    """Mono float32 samples at `sample_rate`, and what was done to get them."""

    samples: np.ndarray  # (N,) float32
    sample_rate: int
    source_sample_rate: int
    source_channels: int
    source_seconds: float
    truncated: bool = False

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def _what_else(path: Path) -> str | None:
    """What a file libsndfile cannot read is, when it is one of Distill's own (a model file, a codes file): said
    in place of libsndfile's "Format not recognised"."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if path.suffix.lower() == ".distill" or head[8:9] == b"{":  # safetensors: 8 bytes of header length, then JSON
        return "this is a Distill model file, not a sound"
    if head.lstrip()[:1] == b"{":
        return "this is a JSON file (a codes file?), not a sound"
    return None


def ogg_inside_wav(path: Path) -> bytes | None:
    """The Ogg stream a RIFF/WAVE file holds in its data chunk under a Vorbis ACM format tag, or None."""
    try:
        with Path(path).open("rb") as fh:
            if fh.read(12)[8:12] != b"WAVE":
                return None
            tag = None
            while header := fh.read(8):
                if len(header) < 8:
                    return None
                kind, size = header[:4], struct.unpack("<I", header[4:])[0]
                if kind == b"fmt ":
                    body = fh.read(size + (size & 1))
                    tag = struct.unpack("<H", body[:2])[0] if len(body) >= 2 else None
                    if tag not in OGG_IN_WAV_TAGS:
                        return None
                elif kind == b"data":
                    data = fh.read(size) if tag is not None else b""
                    return data if data[:4] == b"OggS" else None
                else:
                    fh.seek(size + (size & 1), io.SEEK_CUR)
    except OSError:
        return None
    return None


def _source_and_info(path: Path) -> tuple[str | io.BytesIO, sf._SoundFileInfo]:
    """What soundfile opens for `path` (its name, or the Ogg stream inside a Vorbis-in-WAV file), and its header."""
    try:
        return str(path), sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError):
        ogg = ogg_inside_wav(path)
        if ogg is None:
            raise
    source = io.BytesIO(ogg)
    info = sf.info(source)
    source.seek(0)
    return source, info


def audio_info(path: Path) -> sf._SoundFileInfo:
    """The file's header as `soundfile.info` gives it (samplerate, channels, frames, duration); Vorbis-in-WAV
    files are read from the Ogg stream they hold. Raises what soundfile raises for a file it cannot read."""
    return _source_and_info(Path(path))[1]


def read_channels(path: Path) -> tuple[np.ndarray, int]:
    """Every channel as the file holds it: (N, C) float32 samples and the file's rate. No checks: `load_audio`
    first."""
    source, _ = _source_and_info(Path(path))
    data, rate = sf.read(source, dtype="float32", always_2d=True)
    return data, int(rate)


def load_audio(
    path: str | Path,
    sample_rate: int | None = None,
    *,
    max_seconds: float | None = None,
    trim_silence: bool = False,
    normalize: str | None = None,
) -> LoadedAudio:
    """Read any format libsndfile knows, mix to mono, resample to `sample_rate`.

    Files longer than `max_seconds` are read only up to it (`truncated` is set), so an
    hour-long file never fills memory. NaN/Inf samples and empty files raise `AudioError`.
    `normalize` is None, "peak" (to -1 dBFS) or "loudness" (RMS to -20 dBFS, peak-limited).
    """
    path = Path(path)
    if not path.exists():
        raise AudioError("no such file", path)
    if path.is_dir():
        raise AudioError("is a folder, not an audio file", path)
    if path.stat().st_size == 0:  # libsndfile would say "Format not recognised"
        raise AudioError("the file is empty (0 bytes)", path)
    try:
        source, info = _source_and_info(path)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise AudioError(_what_else(path) or f"not a readable audio file ({_short(exc)})", path) from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError("audio header has no sample rate or channels", path)
    frames = info.frames if info.frames and info.frames > 0 else -1
    truncated = False
    if max_seconds is not None and frames > 0 and frames > max_seconds * info.samplerate:
        frames = int(max_seconds * info.samplerate)
        truncated = True
    try:
        data, sr = sf.read(source, frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as exc:
        raise AudioError(f"could not decode audio ({_short(exc)})", path) from exc
    if data.shape[0] == 0:
        raise AudioError("file holds no samples (zero length)", path)
    if not np.isfinite(data).all():
        raise AudioError("file contains NaN or infinite samples", path)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0].copy()
    samples = resample(mono, sr, sample_rate) if sample_rate else mono
    if trim_silence:
        samples = trim(samples)
    if normalize:
        samples = normalize_audio(samples, normalize)
    return LoadedAudio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=sample_rate or sr,
        source_sample_rate=sr,
        source_channels=data.shape[1],
        source_seconds=(info.frames / sr) if info.frames > 0 else data.shape[0] / sr,
        truncated=truncated,
    )


def trim(samples: np.ndarray, threshold_db: float = -60.0, pad: int = 256) -> np.ndarray:
    """Cut leading and trailing stretches quieter than `threshold_db` below the peak."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak == 0.0:
        return samples
    loud = np.flatnonzero(np.abs(samples) > peak * 10 ** (threshold_db / 20))
    start, end = max(int(loud[0]) - pad, 0), min(int(loud[-1]) + pad + 1, len(samples))
    return samples[start:end]


def normalize_audio(samples: np.ndarray, mode: str = "peak", target_db: float | None = None) -> np.ndarray:
    """Peak normalization (default -1 dBFS) or loudness (RMS, default -20 dBFS, never clipping)."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak == 0.0:
        return samples
    if mode == "peak":
        gain = 10 ** ((-1.0 if target_db is None else target_db) / 20) / peak
    elif mode == "loudness":
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        gain = 10 ** ((-20.0 if target_db is None else target_db) / 20) / max(rms, 1e-12)
        gain = min(gain, 10 ** (-1.0 / 20) / peak)
    else:
        raise ValueError(f"unknown normalization {mode!r} (peak or loudness)")
    return (samples * gain).astype(np.float32)


def save_audio(path: str | Path, samples: np.ndarray, sample_rate: int, *, bits: str = "16") -> Path:
    """Write WAV (16/24-bit or float) or FLAC (16/24-bit), chosen by the extension, atomically.

    `samples` is (N,) mono or (N, C). The file appears complete or not at all.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in {".wav", ".flac"}:
        raise OutputError("output must end in .wav or .flac", path)
    if bits not in SUBTYPES:
        raise OutputError(f"bit depth {bits!r} is not one of 16, 24, float", path)
    if ext == ".flac" and bits == "float":
        raise OutputError("FLAC holds 16- or 24-bit integers, not float", path)
    data = np.asarray(samples, dtype=np.float32)
    if not np.isfinite(data).all():  # a NaN clips to nothing and would be written as -1.0 or as NaN floats
        raise OutputError("the samples hold NaN or infinite values: nothing written", path)
    if bits != "float":
        data = np.clip(data, -1.0, 1.0)
    fmt = "WAV" if ext == ".wav" else "FLAC"
    with atomic_path(path, "audio", suffix=ext) as tmp:
        try:
            sf.write(tmp, data, sample_rate, subtype=SUBTYPES[bits], format=fmt)
        except RuntimeError as exc:  # libsndfile's errors name the temporary file: keep only the reason
            raise OutputError(f"could not write the audio ({_short(exc)}); the previous file is unchanged", path) from exc
    return path


def _short(exc: BaseException) -> str:
    """libsndfile's reason, without the file name it repeats ("Error opening '/x.wav': ...")."""
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    if line.startswith("Error opening") and "': " in line:
        line = line.split("': ", 1)[1]
    return line[:160]
