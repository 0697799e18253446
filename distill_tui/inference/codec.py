"""Encode audio into a `CodeGrid` and decode a grid back to audio (model + Griffin-Lim).

Long grids are decoded in chunks, so memory stays flat however long the sound: the decoder runs on
chunks that overlap by its receptive field (the spectrogram is the same as in one pass, up to float
rounding), and Griffin-Lim runs on chunks that overlap by `GL_CONTEXT_FRAMES` on each side and are
cross-faded over one window at each seam. Decoding refuses grids longer than `max_seconds`
(`DEFAULT_MAX_SECONDS`, 10 minutes, by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio.phase import pghi_phase
from ..audio.spectrogram import from_db, griffin_lim, magnitude_db, to_relative_db
from ..codes.grid import LONGEST_DECODE_S, CodeGrid, length_words, over_limit
from ..config import ModelConfig, SpectrogramConfig
from ..data.dataset import load_named_audio
from ..errors import AudioError, ModelFileError, printable
from ..model.vqvae import VQVAE
from ..persistence.document import ModelDocument
from ..persistence.model_file import ModelFile, load_model_file

PEAK = 10 ** (-1 / 20)  # sounds are peak-normalized to -1 dBFS before encoding
DEFAULT_MAX_SECONDS = LONGEST_DECODE_S  # decode at most 10 minutes of audio unless the caller raises it
CHUNK_SECONDS = 30.0  # grids longer than this are decoded in chunks of about this length
GL_CONTEXT_FRAMES = 64  # Griffin-Lim frames decoded on each side of a chunk and then thrown away (> PGHI's block)
Progress = Callable[[int, int], None]  # (steps done, steps in all)


class DecodeTooLong(AudioError):
    """A grid that decodes to more audio than the limit allows (exit 2: raise the limit to decode it)."""


def decoder_context(cfg: ModelConfig) -> int:
    """Positions on each side that can change the decoder's output at a position (its receptive field), plus 2.

    At the latent rate: a 3-tap convolution (1) and the residual blocks (sum of dilations R); each of the
    log2(stride) upsampling stages: a transposed convolution (1 coarse frame) and R frames at the finer rate;
    then a final 3-tap convolution (1 frame).
    """
    r = sum(cfg.dilation_growth**i for i in range(cfg.res_blocks))
    stages = int(math.log2(cfg.stride))
    reach = 1 + r + sum(1 / 2 ** (j - 1) + r / 2**j for j in range(1, stages + 1)) + 1 / cfg.stride
    return math.ceil(reach) + 2


@dataclass
class DecodeResult:
    audio: np.ndarray  # (N,) float32 at the model's sample rate
    db: np.ndarray  # (F, T) relative dB the decoder predicted (the spectrogram the TUI draws)
    phase: torch.Tensor  # (F, T) complex unit phase after Griffin-Lim (warm-starts a partial re-decode)


@dataclass
class ChunkedPhase:
    """Griffin-Lim run by chunks over a whole spectrogram (`Codec.griffin_lim_by_chunks`)."""

    raw: np.ndarray  # (n,) float32, n = (T - 1) * hop: the audio before trimming to the source and peak limiting
    phase: torch.Tensor  # (F, T) complex unit phase after Griffin-Lim
    phase0: torch.Tensor  # (F, T) complex unit phase it started from: PGHI, the same as one pass would use


def build_vqvae(mf: ModelFile, path: str | Path | None = None) -> tuple[VQVAE, SpectrogramConfig]:
    """Rebuild the RVQ-VAE from a model file's configs and weights. The configs were checked against
    `config.BOUNDS` when the document was read, before anything is allocated; weights that do not fit
    them are a one-line `ModelFileError` naming `path`."""
    spec, cfg = mf.document.spectrogram, mf.document.model
    if cfg.n_bins != spec.n_bins:
        raise ModelFileError(f"model.n_bins {cfg.n_bins} does not fit spectrogram.n_fft {spec.n_fft} "
                             f"({spec.n_bins} bins)", path)
    try:
        state = mf.group("vqvae")
        model = VQVAE(cfg, floor_db=spec.floor_db, trainable=False)  # stored codebooks: no library import
        if set(model.state_dict()) != set(state):  # stored another way: the library's quantizer names the fault
            model = VQVAE(cfg, floor_db=spec.floor_db)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"weights do not fit the stored config ({str(exc).splitlines()[0][:120]})", path) from exc
    model.eval()
    return model, spec


class Codec:
    """A loaded model, ready to encode and decode. All work runs under `torch.no_grad()`."""

    def __init__(self, model: VQVAE, spec: SpectrogramConfig, fingerprint: str, doc: ModelDocument | None = None,
                 device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.spec = spec
        self.fingerprint = fingerprint
        self.doc = doc  # the model file's typed document (None for a model built in memory)
        self.device = device
        ref = None if doc is None else doc.dataset.median_ref_db
        self.default_ref_db = 40.0 if ref is None else float(ref)  # the loudness a grid without a source decodes at

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
    def decode_db(self, codes: np.ndarray, muted: list[int] | tuple[int, ...] = (), *, edges: bool = True) -> torch.Tensor:
        """codes (Q, P) -> relative dB (F, P * stride); muted levels (0-based) are left out.

        `edges=False` decodes a window from inside a longer grid without the columns of silence a whole
        sound gets (decision 20): only for callers that keep the frames the window's ends cannot reach.
        """
        idx = torch.as_tensor(np.asarray(codes), dtype=torch.long, device=self.device)[None]  # (1, Q, P)
        if edges:
            return self.model.decode(idx, muted=tuple(muted))[0]
        if muted:
            idx = idx.clone()
            idx[:, list(muted), :] = -1
        out = self.model.decode_latent(self.model.quantizer.decode_indices(idx))  # (1, F, P * stride)
        return out[0].clamp(self.model.floor_db, 0.0)

    @torch.no_grad()
    def decode_db_batch(self, grids: np.ndarray) -> torch.Tensor:
        """grids (B, Q, P) -> relative dB (B, F, P * stride) on the CPU, decoded in one batch (each as a whole sound)."""
        idx = torch.as_tensor(np.asarray(grids), dtype=torch.long, device=self.device)  # (B, Q, P)
        return self.model.decode(idx).cpu()

    @torch.no_grad()
    def db_to_audio(
        self, db: torch.Tensor, ref_db: float | None = None, gain_db: float = 0.0, length: int | None = None,
        phase: torch.Tensor | None = None, iters: int | None = None,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Relative dB (F, T) -> audio (N,) via fast Griffin-Lim, at the source's level."""
        scale = self._scale(ref_db, gain_db)
        mag = from_db(db, self.spec.floor_db)[None] * scale
        n = (db.shape[-1] - 1) * self.spec.hop_length
        gl = griffin_lim(
            mag, self.spec.n_fft, self.spec.hop_length, iters=self.spec.griffin_lim_iters if iters is None else iters,
            momentum=self.spec.griffin_lim_momentum, length=n, phase=None if phase is None else phase[None],
        )
        audio = gl.audio[0].cpu().numpy().astype(np.float32)
        if length is not None:
            audio = audio[:length]
        return _no_clip(audio), gl.phase[0]

    def _scale(self, ref_db: float | None, gain_db: float) -> float:
        """The linear gain that puts relative dB back at the source's level; refuses NaN and infinity."""
        ref = self.default_ref_db if ref_db is None else ref_db
        try:
            scale = 10 ** ((float(ref) + float(gain_db)) / 20)
        except OverflowError:
            scale = math.inf
        if not math.isfinite(scale):
            raise AudioError(f"the source level (ref_db {ref}, gain_db {gain_db}) would make NaN or infinite samples")
        return scale

    def seconds_for(self, positions: int) -> float:
        """Seconds of audio that `positions` grid columns decode to."""
        return positions * self.cfg.stride * self.spec.hop_length / self.spec.sample_rate

    def check_length(self, positions: int, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> None:
        """Refuse (`DecodeTooLong`) a grid that decodes to more than `max_seconds` of audio (None: no limit); the
        whole columns that hold `max_seconds` pass (`generate --seconds 600` made 600.004 s of them, sampled for 15 s
        and was then refused: "10.0 minutes of audio, over the limit of 10 minutes")."""
        if max_seconds is None or not over_limit(positions, self.seconds_for(1), max_seconds):
            return
        said = length_words(self.seconds_for(positions), max_seconds)
        raise DecodeTooLong(f"the grid decodes to {said} of audio, over the limit of {max_seconds / 60:g} minutes")

    def decode(
        self, grid: CodeGrid, muted: list[int] | tuple[int, ...] = (), iters: int | None = None, *,
        max_seconds: float | None = DEFAULT_MAX_SECONDS, progress: Progress | None = None,
        chunk_positions: int | None = None,
    ) -> DecodeResult:
        """Decode a whole grid to audio at its source's level; grids over `chunk_positions` go by chunks.

        Refuses (`AudioError`) an empty grid, and (`DecodeTooLong`) one longer than `max_seconds`.

        `progress(done, total)` is called after each step (a grid in one piece is one step; in chunks,
        each chunk's decoder pass and each chunk's Griffin-Lim are one step each).
        """
        grid.check_model(self.fingerprint, self.codebook_sizes)
        if grid.positions == 0:
            raise AudioError("the grid has no positions (an empty sound): nothing to decode")
        self.check_length(grid.positions, max_seconds)
        src = grid.source or {}
        ref, gain, length = src.get("ref_db"), float(src.get("gain_db", 0.0)), src.get("samples")
        bounds = self.chunk_bounds(grid.positions, chunk_positions)
        if bounds is None:
            db = self.decode_db(grid.codes, muted)
            audio, phase = self.db_to_audio(db, ref, gain, length, iters=iters)
            if progress is not None:
                progress(1, 1)
            return DecodeResult(audio=audio, db=db.cpu().numpy(), phase=phase)
        steps = [0, 2 * len(bounds)]

        def step() -> None:
            steps[0] += 1
            if progress is not None:
                progress(steps[0], steps[1])

        db = self.decode_db_chunked(grid.codes, muted, bounds, step)
        audio, phase = self.chunked_audio(db, ref, gain, length, iters, [(a * self.cfg.stride, b * self.cfg.stride) for a, b in bounds], step)
        return DecodeResult(audio=audio, db=db.cpu().numpy(), phase=phase)

    def chunk_bounds(self, positions: int, chunk_positions: int | None = None) -> list[tuple[int, int]] | None:
        """The chunks [a, b) of grid positions a grid of `positions` columns is decoded in, or None when it goes
        in one pass (up to `chunk_positions`, by default about `CHUNK_SECONDS` of audio). Griffin-Lim over one
        long spectrogram runs out of the CPU's caches: a 3-minute sound took 22 s in one pass and 10 s by chunks."""
        # a chunk spans at least a window and two frames, so every seam's cross-fade lies inside both chunks
        shortest = math.ceil((self.spec.n_fft // self.spec.hop_length + 2) / self.cfg.stride)
        chunk = max(shortest, chunk_positions or self.chunk_positions())
        return None if positions <= chunk else _even_bounds(positions, chunk)

    def chunk_positions(self) -> int:
        """Grid columns in about `CHUNK_SECONDS` of audio."""
        return max(1, round(CHUNK_SECONDS / self.seconds_for(1)))

    @torch.no_grad()
    def decode_db_chunked(
        self, codes: np.ndarray, muted: list[int] | tuple[int, ...], bounds: list[tuple[int, int]],
        step: Callable[[], None] = lambda: None,
    ) -> torch.Tensor:
        """`decode_db` by chunks of positions [a, b), each decoded with `decoder_context` positions around it."""
        positions, stride, k = codes.shape[1], self.cfg.stride, decoder_context(self.cfg)
        out = torch.empty((self.cfg.n_bins, positions * stride), device=self.device)
        for a, b in bounds:
            lo, hi = max(0, a - k), min(positions, b + k)
            part = self.decode_db(codes[:, lo:hi], muted)
            out[:, a * stride : b * stride] = part[:, (a - lo) * stride : (b - lo) * stride]
            step()
        return out

    @torch.no_grad()
    def chunked_audio(
        self, db: torch.Tensor, ref_db: float | None, gain_db: float, length: int | None, iters: int | None,
        bounds: list[tuple[int, int]], step: Callable[[], None] = lambda: None,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """`db_to_audio` by chunks of frames [a, b) (`griffin_lim_by_chunks`): the audio, trimmed to `length`
        and never clipping, and its phase."""
        out = self.griffin_lim_by_chunks(db, self._scale(ref_db, gain_db), iters, bounds, step)
        audio = out.raw if length is None else out.raw[:length]
        return _no_clip(audio), out.phase

    @torch.no_grad()
    def griffin_lim_by_chunks(
        self, db: torch.Tensor, scale: float, iters: int | None, bounds: list[tuple[int, int]],
        step: Callable[[], None] = lambda: None, between: Callable[[], None] | None = None,
    ) -> ChunkedPhase:
        """Griffin-Lim by chunks of frames [a, b) of db (F, T), each with `GL_CONTEXT_FRAMES` around it, from the
        same starting phase a single pass would use (PGHI), cross-faded over `n_fft` samples at each seam.
        `step()` after each chunk (an export's progress), `between()` after each iteration (`griffin_lim`)."""
        spec = self.spec
        hop, frames = spec.hop_length, db.shape[-1]
        n, half = (frames - 1) * hop, spec.n_fft // 2
        audio = np.zeros(n, dtype=np.float32)  # (n,)
        phase = torch.empty(db.shape, dtype=torch.complex64, device=db.device)  # (F, T)
        phase0 = torch.empty(db.shape, dtype=torch.complex64, device=db.device)  # (F, T)
        fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * half) + 0.5) / (2 * half))).astype(np.float32)
        for a, b in bounds:
            lo, hi = max(0, a - GL_CONTEXT_FRAMES), min(frames, b + GL_CONTEXT_FRAMES)
            mag = from_db(db[:, lo:hi], spec.floor_db)[None] * scale  # (1, F, hi - lo)
            # PGHI starts afresh every BLOCK frames, and the context is longer than a block: over [a, b)
            # this is the very start phase a single pass would use
            start = pghi_phase(mag, spec.n_fft, hop, first_frame=lo)  # (1, F, hi - lo)
            gl = griffin_lim(
                mag, spec.n_fft, hop, iters=spec.griffin_lim_iters if iters is None else iters,
                momentum=spec.griffin_lim_momentum, length=(hi - lo - 1) * hop, phase=start, between=between,
            )
            phase[:, a:b] = gl.phase[0][:, a - lo : b - lo]
            phase0[:, a:b] = start[0][:, a - lo : b - lo]
            s0, s1 = (a * hop - half if a > 0 else 0), (b * hop + half if b < frames else n)
            piece = gl.audio[0].cpu().numpy()[s0 - lo * hop : s1 - lo * hop].astype(np.float32)
            if a > 0:
                piece[: 2 * half] *= fade_in
            if b < frames:
                piece[len(piece) - 2 * half :] *= fade_in[::-1]
            audio[s0:s1] += piece
            step()
        return ChunkedPhase(raw=audio, phase=phase, phase0=phase0)


def load_codec(path: str | Path, device: str = "cpu") -> Codec:
    mf = load_model_file(path)
    if not mf.document.model.quantize:
        raise ModelFileError("this is a continuous-baseline model: it has no codes to encode or decode", path)
    model, spec = build_vqvae(mf, path)
    return Codec(model, spec, mf.fingerprint, mf.document, device)


def _no_clip(audio: np.ndarray) -> np.ndarray:
    """Scale `audio` in place to a peak of 0.999 if it is louder; NaN or infinite samples are refused."""
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if not math.isfinite(peak):
        raise AudioError("the decoded sound has NaN or infinite samples")
    if peak > 0.999:  # never clip
        audio *= 0.999 / peak
    return audio


def _even_bounds(total: int, chunk: int) -> list[tuple[int, int]]:
    """[0, total) cut into ceil(total / chunk) runs of nearly equal length (none much shorter than the rest)."""
    n = -(-total // chunk)
    edges = [round(i * total / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))
