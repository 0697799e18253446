"""Scan a folder of sounds, preprocess them once (cached), split by file, and cut training crops."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..audio.io import LoadedAudio, audio_info, load_audio
from ..audio.resample import RESAMPLE_VERSION
from ..audio.spectrogram import magnitude_db, to_relative_db
from ..config import DatasetSummary, SpectrogramConfig, TrainConfig, stft_sizes
from ..errors import AudioError, BadInputError, printable
from .audio_files import find_audio, skip_file
from .cache import AudioCache
from .copies import copy_cache, pitch_copies

SILENT_PEAK = 1e-5  # -100 dBFS: nothing to learn from


@dataclass
class SoundFile:
    """One usable file: mono float32 at the model rate, peak-normalized to -1 dBFS."""

    path: Path
    digest: str
    samples: np.ndarray  # (N,) float32
    ref_db: float  # the loudest STFT bin in dB: the 0 dB of this sound's relative log-magnitudes


@dataclass
class ScanResult:
    files: list[SoundFile]
    skipped: list[dict[str, str]]  # {"path":..., "reason":...}
    notes: list[str] = field(default_factory=list)  # e.g. truncated files
    cached: int = 0  # how many came from the cache

    def summary(self, root: Path, sample_rate: int) -> DatasetSummary:
        seconds = sum(len(f.samples) for f in self.files) / sample_rate
        return DatasetSummary(files=len(self.files), minutes=round(seconds / 60, 4), skipped=self.skipped,
                              root=str(Path(root).absolute()))  # found again from any working folder


SNDFILE_MAX_PATH = 1000  # libsndfile copies the name into a 1024-byte buffer and fails on longer ones


def needs_alias(path: Path) -> bool:
    """True when libsndfile cannot be handed this name: it is not valid UTF-8, or too long for its buffer."""
    try:
        return len(str(path).encode("utf-8")) >= SNDFILE_MAX_PATH
    except UnicodeEncodeError:
        return True


@contextmanager
def readable_name(path: Path) -> Iterator[Path]:
    """A name for `path` that libsndfile can open: `path` itself, or a temporary link with a short UTF-8 name.

    soundfile encodes a text path strictly, so a name holding bytes that are not UTF-8 fails with
    "surrogates not allowed", and libsndfile refuses names of 1024 bytes or more; a link in a temporary
    folder points at the same file under a short plain name.
    """
    if not needs_alias(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="distill-name-") as tmp:
        link = Path(tmp) / f"sound{path.suffix.encode('utf-8', 'backslashreplace').decode()}"
        os.symlink(os.fsencode(path.absolute()), os.fsencode(link))
        yield link


def load_named_audio(path: Path, sample_rate: int | None = None, **options) -> LoadedAudio:
    """`load_audio` for any file name; errors name `path` (printable), never a temporary link."""
    with readable_name(path) as name:
        try:
            return load_audio(name, sample_rate, **options)
        except AudioError as exc:
            if name == path:
                raise
            raise AudioError(exc.reason, path) from exc



@dataclass
class RateChoice:
    """The rate a model trains at when none is asked for: the folder's most common, within 16-48 kHz."""

    sample_rate: int
    counts: dict[int, int]  # source rate (Hz) -> files
    upsampled: list[tuple[str, int]]  # (printable path, rate) of the files below `sample_rate`
    unreadable: int = 0  # files whose header could not be read (the scan lists them with the reason)

    def describe(self) -> str:
        """One line for the user: the rate, and why."""
        n = sum(self.counts.values())
        top = max(self.counts.values()) if self.counts else 0
        return (f"training at {self.sample_rate} Hz: the folder's most common rate ({top} of {n} files)"
                if n else f"training at {self.sample_rate} Hz")


def corpus_rate(paths: list[Path], lo: int = 16000, hi: int = 48000) -> RateChoice:
    """The most common source rate of `paths` (ties: the higher), clamped to [lo, hi]; headers only.

    Sample libraries are 44.1 or 48 kHz: a model at their rate keeps the band above 11 kHz that a
    22.05 kHz one loses (hats, cymbals, air). Files at a higher rate (96 kHz) are resampled down; files
    at a lower one are upsampled, gain nothing above their own band, and are named.
    """
    counts: dict[int, int] = {}
    rates: list[tuple[Path, int]] = []
    unreadable = 0
    for path in paths:
        try:
            with readable_name(path) as name:
                rate = int(audio_info(name).samplerate)
        except Exception:  # noqa: BLE001 - any header a reader refuses: the scan says why, in its list
            unreadable += 1
            continue
        counts[rate] = counts.get(rate, 0) + 1
        rates.append((path, rate))
    if not counts:
        return RateChoice(22050, {}, [], unreadable)
    common = max(counts, key=lambda r: (counts[r], r))
    chosen = min(max(common, lo), hi)
    upsampled = [(printable(p), r) for p, r in rates if r < chosen]
    return RateChoice(chosen, counts, upsampled, unreadable)



@dataclass
class RateSettings:
    """The spectrogram a fresh run trains with, and what to tell the user about its rate."""

    spec: SpectrogramConfig
    note: str = ""  # why this rate (empty when the rate was asked for)
    warning: str = ""  # the files below the rate, upsampled


def corpus_spectrogram(spec: SpectrogramConfig, data_dir: Path, given: frozenset[str] | set[str]) -> RateSettings:
    """`spec` with the folder's most common rate unless "sample_rate" is in `given`, and STFT sizes scaled
    to the rate (`config.stft_sizes`) unless "n_fft" / "hop_length" are given."""
    rate, note, warning = spec.sample_rate, "", ""
    if "sample_rate" not in given:
        choice = corpus_rate(find_audio(data_dir))
        rate, note = choice.sample_rate, choice.describe()
        if choice.upsampled:
            names = ", ".join(f"{p} ({r} Hz)" for p, r in choice.upsampled[:5])
            more = f" and {len(choice.upsampled) - 5} more" if len(choice.upsampled) > 5 else ""
            n = len(choice.upsampled)
            warning = (f"1 file below {rate} Hz is upsampled and adds nothing above its own band" if n == 1 else
                       f"{n} files below {rate} Hz are upsampled and add nothing above their own band") + f": {names}{more}"
    n_fft, hop = stft_sizes(rate)
    out = replace(spec, sample_rate=rate, n_fft=spec.n_fft if "n_fft" in given else n_fft,
                  hop_length=spec.hop_length if "hop_length" in given else hop)
    out.validate()
    return RateSettings(out, note, warning)

def scan(
    root: str | Path,
    spec: SpectrogramConfig,
    *,
    max_file_seconds: float = 600.0,
    trim_silence: bool = False,
    cache: AudioCache | None = None,
    progress=None,
) -> ScanResult:
    """Read every audio file under `root` (recursively) once; unreadable files are skipped with the reason."""
    root = Path(root)
    result = ScanResult(files=[], skipped=[])
    paths = find_audio(root, result.skipped)
    if cache is None:
        cache = AudioCache({"sr": spec.sample_rate, "max": max_file_seconds, "trim": trim_silence, "norm": "peak",
                            "n_fft": spec.n_fft, "hop": spec.hop_length, "v": 2,
                            "resample": RESAMPLE_VERSION})
    for i, path in enumerate(paths):
        if progress:
            progress(i, len(paths), path)
        try:
            digest = cache.hash_for(path)
        except OSError as exc:
            skip_file(result.skipped, path, f"cannot read ({exc.strerror})")
            continue
        hit = cache.get(digest)
        if hit is not None:
            samples, info = hit
            result.cached += 1
            if info.get("truncated"):
                result.notes.append(f"{printable(path)}: longer than {max_file_seconds:g} s, only the start is used")
        else:
            try:
                loaded = load_named_audio(path, spec.sample_rate, max_seconds=max_file_seconds, trim_silence=trim_silence)
            except AudioError as exc:
                skip_file(result.skipped, path, exc.reason)
                continue
            samples = loaded.samples
            peak = float(np.abs(samples).max())
            if peak < SILENT_PEAK:
                skip_file(result.skipped, path, "all silent")
                continue
            samples = (samples * (10 ** (-1 / 20) / peak)).astype(np.float32)
            info = {"truncated": loaded.truncated, "source_rate": loaded.source_sample_rate,
                    "ref_db": float(magnitude_db(torch.from_numpy(samples)[None], spec).max())}
            if loaded.truncated:
                result.notes.append(f"{printable(path)}: longer than {max_file_seconds:g} s, only the start is used")
            cache.put(digest, samples, info)
        ref = info.get("ref_db")
        if ref is None:
            ref = float(magnitude_db(torch.from_numpy(samples)[None], spec).max())
        result.files.append(SoundFile(path=path, digest=digest, samples=samples, ref_db=float(ref)))
    cache.flush()
    if not result.files:
        why = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in result.skipped[:3])
        raise BadInputError(f"no usable audio files ({len(paths)} found{', ' + why if why else ''})", root)
    return result


@dataclass
class Split:
    """Which audio trains and which validates.

    `holdout` (TrainConfig.holdout) picks it:
    - "none": every file trains and validation measures the fit on those same sounds. A musician's
      model is a codec for *their* sounds; a held-out file decodes far worse (a held-out crash cymbal
      scored 18 dB where trained-on sounds scored 2-6 dB, RESULTS.md), so nothing is held out by default.
    - "files": about 10 % of the files (at least one) are held out whole: how well the model generalizes
      to sounds it never heard. With fewer than `min_files_for_file_split` files, held-out crops instead.
    - "crops": the last crop of every file at least three crops long is held out.
    """

    train: list[SoundFile]
    val: list[SoundFile]
    holdout: str = "none"
    holdout_samples: int = 0  # with "crops": the last this-many samples of long files are validation only

    @property
    def by_file(self) -> bool:
        return self.holdout == "files"


HOLDOUTS = ("none", "files", "crops")


def split(files: list[SoundFile], crop_samples: int, seed: int = 0, holdout: str = "none",
          min_files_for_file_split: int = 8) -> Split:
    if holdout not in HOLDOUTS:
        raise BadInputError(f"unknown holdout {holdout!r} (none, files or crops)")
    if holdout == "none":
        return Split(train=list(files), val=list(files))
    if holdout == "files" and len(files) >= min_files_for_file_split:
        order = sorted(files, key=lambda f: f.digest)
        random.Random(seed).shuffle(order)
        n_val = max(1, round(0.1 * len(files)))
        return Split(train=order[n_val:], val=order[:n_val], holdout="files")
    return Split(train=list(files), val=list(files), holdout="crops", holdout_samples=crop_samples)


class CropSampler:
    """Random fixed-length crops, with silence where a crop reaches past a sound's start or end.

    A file shorter than a crop sits at a random place inside it, whole, never dropped; a crop of a
    longer file may start up to a quarter crop before its start or end as far after its end. So the
    model learns sounds with silence around them, which is how whole sounds are encoded and decoded
    (`VQVAE.encode`/`decode` add `edge_positions` of silence), and at every alignment to the stride.

    Batches come back as model input: relative log-magnitude, (B, F, crop_frames), in dB.
    """

    def __init__(self, sp: Split, spec: SpectrogramConfig, crop_frames: int, seed: int = 0,
                 augment: Augment | None = None) -> None:
        self.spec = spec
        self.crop_frames = crop_frames
        self.crop_samples = (crop_frames - 1) * spec.hop_length
        self.edge_samples = self.crop_samples // 4
        self.rng = np.random.default_rng(seed)
        self.augment = augment or Augment()
        # its own stream: the same seed draws the same crops with augmentation on or off
        self.aug_rng = np.random.default_rng([seed, 1])
        self.files = sp.train
        self.holdout = sp.holdout_samples if sp.holdout == "crops" else 0
        # per training file, its pitch-shifted copies (made once, cached); empty lists when there are none
        self.copies: list[list[SoundFile]] = self._make_copies() if self.augment.pitch_copies else []

    def _make_copies(self) -> list[list[SoundFile]]:
        """A `SoundFile` per training file and shift in `augment.pitch_copies`, from `copies.pitch_copies`.
        With held-out crops, only the usable part of a file is copied, so no held-out audio leaks in."""
        cache = copy_cache(self.spec)
        out = []
        for f in self.files:
            made = pitch_copies(self._usable(f), self.spec, self.augment.pitch_copies, cache)
            out.append([SoundFile(f.path, f"{f.digest}-pitch{c.semitones:+g}", c.samples, c.ref_db) for c in made])
        cache.flush()
        return out

    @property
    def copy_bytes(self) -> int:
        """The memory the copies' audio takes (bytes)."""
        return sum(c.samples.nbytes for per_file in self.copies for c in per_file)

    def _usable(self, f: SoundFile) -> np.ndarray:
        if "-pitch" in f.digest:  # a copy was made of the usable part only
            return f.samples
        if self.holdout and len(f.samples) >= 3 * self.crop_samples:
            return f.samples[: len(f.samples) - self.holdout]
        return f.samples

    def _draw(self, f: SoundFile) -> tuple[np.ndarray, int, int]:
        """One crop of f: (audio (crop_samples,), where it starts in the sound (negative: silence before
        it), the sound's usable length)."""
        x = self._usable(f)
        n = self.crop_samples
        if len(x) <= n:
            start = -int(self.rng.integers(0, n - len(x) + 1))  # the whole sound, somewhere inside
        else:
            start = int(self.rng.integers(-self.edge_samples, len(x) - n + self.edge_samples + 1))
        lo, hi = max(start, 0), min(start + n, len(x))
        out = np.zeros(n, dtype=np.float32)
        out[lo - start : hi - start] = x[lo:hi]
        return out, start, len(x)

    def _version(self, i: int, f: SoundFile) -> SoundFile:
        """Training file `f` (index i) itself, or with chance `augment.copy_share` one of its copies at random
        (its own stream, `aug_rng`)."""
        copies = self.copies[i]
        if not copies or self.aug_rng.random() >= self.augment.copy_share:
            return f
        return copies[int(self.aug_rng.integers(0, len(copies)))]

    def crop(self, f: SoundFile) -> np.ndarray:
        """(crop_samples,) float32: a window of the file; zeros where it reaches past the sound."""
        return self._draw(f)[0]

    def batch(self, batch_size: int, augment: bool = True) -> torch.Tensor:
        return self.crops(batch_size, augment).db

    def crops(self, batch_size: int, augment: bool = True) -> CropBatch:
        """A batch of crops of files drawn uniformly, and which of their frames lie inside the sound.

        Files are drawn uniformly, not by length, and `spectral_loss` averages each crop over the
        frames inside its sound: so a 0.06 s kick weighs as much as a 10 s pad, as in the metric
        (the mean over files of each file's mean over frames, docs/architecture.md, "Metrics").
        """
        idx = self.rng.integers(0, len(self.files), size=batch_size)
        chosen = [self.files[i] for i in idx]
        if augment and self.copies:
            chosen = [self._version(i, f) for i, f in zip(idx, chosen, strict=True)]
        centres = np.arange(self.crop_frames) * self.spec.hop_length  # frame t of a crop is centred on sample t * hop
        audio, inside = [], []
        for f in chosen:
            crop, start, length = self._draw(f)
            audio.append(crop)
            pos = start + centres
            inside.append((pos >= 0) & (pos <= length))
        wave = torch.from_numpy(np.stack(audio))  # (B, N)
        refs = torch.tensor([f.ref_db for f in chosen])
        db = to_relative_db(magnitude_db(wave, self.spec), self.spec.floor_db, refs)  # (B, F, crop_frames)
        # at another alignment to the frames a transient can peak above its file's 0 dB
        db = db.clamp_max(0.0)
        if augment and self.augment.active:
            db = self.augment.apply(db, self.aug_rng, self.spec.floor_db)
        return CropBatch(db=db, inside=torch.from_numpy(np.stack(inside)))


@dataclass
class Augment:
    """Variations of each training crop, so sounds the model never heard look less new.

    Every crop already starts at any sample (`CropSampler._draw`): its frames and grid columns fall at a
    random sub-frame, sub-column offset. On top of that, per crop:
    - `gain_db`: quieter by a uniform 0..gain_db dB (relative to its file's loudest bin; louder would clip).
    - `semitones`: pitch moved by a uniform -semitones..+semitones, in the spectrogram: bin f takes the
      log-magnitude at bin f / ratio (linear between bins), and what comes from above the top bin is floor.
      No resampling, so frames stay where they were and the crop's timing is untouched.
    - `pitch_copies`: copies of every training sound resampled in the time domain (data/copies.py), made
      once; a crop comes from one of its file's copies with chance `copy_share` (`CropSampler._version`).
    All are off by default: on 20 real sounds they made held-out and training sounds decode worse
    (docs/architecture.md, decision 28); the bin interpolation smooths the spectra's fine structure, and
    crops spent on copies are not spent on the user's own sounds.
    """

    gain_db: float = 0.0
    semitones: float = 0.0
    pitch_copies: list[float] = field(default_factory=list)  # semitones; copies made once (data/copies.py)
    copy_share: float = 0.5  # the chance that a crop comes from one of its file's copies, when it has any

    @classmethod
    def of(cls, tc: TrainConfig) -> Augment:
        return cls(tc.augment_gain_db, tc.augment_semitones, list(tc.augment_pitch_copies), tc.augment_copy_share)

    @property
    def active(self) -> bool:
        return self.gain_db > 0 or self.semitones > 0

    def apply(self, db: torch.Tensor, rng: np.random.Generator, floor_db: float) -> torch.Tensor:
        """db: (B, F, T) relative dB in [floor_db, 0] -> the same shape, each crop varied."""
        b, n_bins, frames = db.shape
        if self.semitones > 0:
            ratio = torch.from_numpy(2.0 ** (rng.uniform(-self.semitones, self.semitones, size=b) / 12)).to(db)
            src = torch.arange(n_bins, dtype=db.dtype, device=db.device)[None] / ratio[:, None]  # (B, F)
            lo = src.floor().clamp(max=n_bins - 1)
            w = (src - lo)[..., None]  # (B, F, 1)
            i0 = lo.long() + n_bins * torch.arange(b, device=db.device)[:, None]  # (B, F) rows of db as (B*F, T)
            i1 = torch.minimum(i0 + 1, i0 - lo.long() + n_bins - 1)
            # whole rows at once: 0.9 ms a batch (16 x 1025 x 64), a (B, F, T) gather 26 ms on one core
            rows = db.reshape(b * n_bins, frames)
            warped = torch.lerp(rows.index_select(0, i0.reshape(-1)).reshape(db.shape),
                                rows.index_select(0, i1.reshape(-1)).reshape(db.shape), w)  # (B, F, T)
            db = torch.where((src > n_bins - 1)[..., None], torch.full_like(db, floor_db), warped)
        if self.gain_db > 0:
            gain = torch.from_numpy(rng.uniform(-self.gain_db, 0.0, size=b)).to(db)  # (B,)
            db = (db + gain[:, None, None]).clamp_min(floor_db)
        return db


@dataclass
class CropBatch:
    db: torch.Tensor  # (B, F, crop_frames) relative dB
    inside: torch.Tensor  # (B, crop_frames) bool: the frame is centred inside the sound (not the silence around it)


def validation_items(sp: Split) -> list[tuple[np.ndarray, float]]:
    """(audio, ref_db) for validation: whole files (held out, or every file with holdout "none"), or
    the held-out tail of each long file."""
    if sp.by_file or sp.holdout == "none":
        return [(f.samples, f.ref_db) for f in sp.val]
    items = []
    for f in sp.val:
        if len(f.samples) >= 3 * sp.holdout_samples:
            items.append((f.samples[len(f.samples) - sp.holdout_samples :], f.ref_db))
        else:
            items.append((f.samples, f.ref_db))
    return items
