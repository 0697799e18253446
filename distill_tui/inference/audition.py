"""Decode for audition: a full decode, and a partial re-decode after an edit that recomputes only what the edit can reach.

An edit at positions [p0, p1) changes the decoder's output only within its receptive field, which
is measured once per model by perturbing one latent position (`measure_receptive_field`). The
partial re-decode runs the decoder on that window plus enough context for the result to match a
full decode, splices the new frames into the previous spectrogram (frames outside stay the very
same numbers), runs Griffin-Lim only over the frames that changed plus a margin (from the full
decode's own initial phase (PGHI, continued from the frame before the window) by default, so the
result matches an export; or warm-started from the
previous phase with `partial_iters`), and crossfades the new samples into the previous audio so that
nothing clicks. Decodes run on `threads` torch threads (one by default: docs/architecture.md, decision 18).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..audio.phase import BLOCK, pghi_phase
from ..audio.spectrogram import from_db, griffin_lim
from ..codes.grid import CodeGrid
from ..threads import torch_threads
from .codec import Codec

CHANGE_DB = 1e-3  # frames whose predicted dB moved less than this keep their previous audio


@dataclass(frozen=True)
class ReceptiveField:
    """Output frames one latent position can change: [p * stride - left, (p + 1) * stride + right)."""

    left: int
    right: int
    stride: int

    def frames(self, p0: int, p1: int, total: int) -> tuple[int, int]:
        return max(p0 * self.stride - self.left, 0), min(p1 * self.stride + self.right, total)

    @property
    def context_positions(self) -> int:
        """Latent positions of context on each side so a windowed decode equals the full one."""
        return math.ceil((self.left + self.right) / self.stride) + 1


@dataclass
class Audition:
    """A decoded grid: what the TUI plays and draws, and what the next partial re-decode starts from."""

    audio: np.ndarray  # (N,) float32 at the model's rate: trimmed to the source's length, never clipping
    db: np.ndarray  # (F, T) relative dB the decoder predicted, T = positions * stride (the spectrogram to draw)
    phase: torch.Tensor  # (F, T) complex unit phase after Griffin-Lim: what a warm start (`partial_iters`) starts
    # from; without one, partial re-decodes leave it as the last full decode made it (copying it cost 40 ms an edit
    # on a 3-minute sound, for nothing that reads it)
    phase0: torch.Tensor  # (F, T) complex unit phase Griffin-Lim started from: PGHI of the magnitudes
    raw: np.ndarray  # (n,) float32 audio before trimming and peak limiting, n = (T - 1) * hop
    codes: np.ndarray  # (Q, P) the codes that were decoded
    muted: tuple[int, ...]  # levels (0-based) left out of the decode
    frames: tuple[int, int]  # [start, stop) of spectrogram frames recomputed (all of them for a full decode)
    samples: tuple[int, int]  # [start, stop) of samples that may differ from the previous audio
    partial: bool
    seconds: float  # wall time of the decode


def levels_up_to(k: int, levels: int) -> tuple[int, ...]:
    """The levels to mute so that only levels 1..k sound (hear what each level contributes)."""
    return tuple(range(max(k, 0), levels))


@torch.no_grad()
def measure_receptive_field(codec: Codec, positions: int = 48, trials: int = 3) -> ReceptiveField:
    """Perturb one latent position of a random latent and see which output frames move (exactly)."""
    stride = codec.cfg.stride
    gen = torch.Generator().manual_seed(0)
    c = positions // 2
    lo, hi = c * stride, (c + 1) * stride - 1
    for _ in range(trials):
        z = torch.randn(1, positions, codec.cfg.latent_dim, generator=gen)  # (1, P, D)
        z2 = z.clone()
        z2[0, c] += torch.randn(codec.cfg.latent_dim, generator=gen)
        d = (codec.model.decode_latent(z) - codec.model.decode_latent(z2)).abs().amax(dim=1)[0]  # (P * stride,)
        moved = torch.nonzero(d > 0).flatten()
        if len(moved):
            lo, hi = min(lo, int(moved[0])), max(hi, int(moved[-1]))
    if lo == 0 or hi == positions * stride - 1:  # reached the edge: measure on a longer latent
        return measure_receptive_field(codec, positions * 2, trials)
    return ReceptiveField(left=c * stride - lo, right=hi - ((c + 1) * stride - 1), stride=stride)


class _Writes:
    """The writes of a partial re-decode into its arrays. With `keep`, each region's old values are kept until the
    update is done, and `undo` puts them back: an update that took over the previous decode's arrays
    (`Auditioner.update`'s `reuse`) and failed half-way leaves that decode whole."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self._old: list[tuple[np.ndarray | torch.Tensor, tuple | slice, np.ndarray | torch.Tensor]] = []

    def put(self, array: np.ndarray | torch.Tensor, index: tuple | slice, value: np.ndarray | torch.Tensor) -> None:
        if self.keep:
            old = array[index]
            self._old.append((array, index, old.copy() if isinstance(old, np.ndarray) else old.clone()))
        array[index] = value

    def undo(self) -> None:
        for array, index, old in reversed(self._old):
            array[index] = old
        self._old.clear()


class Auditioner:
    """Decodes grids of one model for listening; reuse it across edits (it caches the receptive field).

    The partial re-decode runs Griffin-Lim over its window the way the full decode does: from the
    full decode's own initial phase (PGHI, which integrates forward in time, continued from the frame
    before the window), for as many iterations. What you hear after an edit is
    then what a full decode (an export) gives: 0.09 dB apart (median, real model), where a warm start
    from the previous phase with 12 iterations was 0.34 dB apart (bench/RESULTS.md). `partial_iters`
    chooses the warm start instead, with that many iterations (faster, further from the full decode).
    """

    def __init__(self, codec: Codec, *, iters: int | None = None, partial_iters: int | None = None,
                 margin_frames: int | None = None, threads: int | None = 1) -> None:
        self.codec = codec
        self.iters = codec.spec.griffin_lim_iters if iters is None else iters
        self.partial_iters = partial_iters
        self.threads = threads
        self.rf = measure_receptive_field(codec)
        hop, n_fft = codec.spec.hop_length, codec.spec.n_fft
        # Griffin-Lim's window: n_fft / 2 samples at each edge see reflected audio, then n_fft / 2 of
        # crossfade, then the n_fft / 2 samples the changed frames reach: 3 * n_fft / 2 plus a frame; and
        # 3 frames more, which the start from PGHI needs to meet a full decode (on the test suite's tiny
        # model, partial against full: 0.51 dB with 7 frames at 1024/256, 0.45 with 10, 0.38 with 14).
        self.margin = margin_frames if margin_frames is not None else math.ceil(3 * n_fft / 2 / hop) + 4
        self.fade = n_fft // 2  # crossfade length in samples

    # ---- full decode

    def _scale(self, grid: CodeGrid) -> float:
        src = grid.source or {}
        ref = src.get("ref_db")
        ref = self.codec.default_ref_db if ref is None else float(ref)
        return 10 ** ((ref + float(src.get("gain_db", 0.0))) / 20)

    def _finish(self, raw: np.ndarray, grid: CodeGrid) -> np.ndarray:
        """Trim to the source's length and limit the peak, as `Codec.decode` does."""
        audio = raw[: grid.samples].copy() if grid.samples is not None else raw.copy()
        peak = float(np.abs(audio).max()) if len(audio) else 0.0
        if peak > 0.999:  # never clip
            audio *= 0.999 / peak
        return audio

    def full(self, grid: CodeGrid, muted: tuple[int, ...] | list[int] = (),
             step: Callable[[], None] = lambda: None, between: Callable[[], None] | None = None) -> Audition:
        """Decode the whole grid (the same audio as `Codec.decode`); `muted` levels (0-based) are left out.
        A long grid goes by chunks, with `step()` after each one, and `between()` after each Griffin-Lim iteration:
        an exception either raises ends the decode there."""
        with torch_threads(self.threads):
            return self._full(grid, muted, step, between)

    @torch.no_grad()
    def _full(self, grid: CodeGrid, muted: tuple[int, ...] | list[int], step: Callable[[], None],
              between: Callable[[], None] | None) -> Audition:
        t0 = time.perf_counter()
        codec = self.codec
        grid.check_model(codec.fingerprint, codec.codebook_sizes)
        muted = tuple(sorted(set(muted)))
        bounds = codec.chunk_bounds(grid.positions)  # a long grid goes by chunks, as an export decodes it
        if bounds is None:
            db = codec.decode_db(grid.codes, muted)  # (F, T)
            frames = [(0, db.shape[-1])]  # one chunk: the one pass `Codec.decode` makes
        else:
            db = codec.decode_db_chunked(grid.codes, muted, bounds, step)  # (F, T)
            frames = [(a * codec.cfg.stride, b * codec.cfg.stride) for a, b in bounds]
        out = codec.griffin_lim_by_chunks(db, self._scale(grid), self.iters, frames, step, between=between)
        raw, phase, phase0 = out.raw, out.phase, out.phase0  # (n,), (F, T), (F, T)
        return Audition(
            audio=self._finish(raw, grid), db=db.cpu().numpy(), phase=phase, phase0=phase0, raw=raw,
            codes=grid.codes.copy(),
            muted=muted, frames=(0, db.shape[-1]), samples=(0, len(raw)), partial=False, seconds=time.perf_counter() - t0,
        )

    # ---- partial re-decode

    def update(self, grid: CodeGrid, previous: Audition, muted: tuple[int, ...] | list[int] | None = None, *,
               reuse: bool = False) -> Audition:
        """Re-decode after an edit (or an undo), reusing `previous` wherever the change cannot reach.

        Falls back to a full decode when the grid's length or the muted levels changed. `reuse`: the result
        takes over `previous`'s arrays and changes them in place instead of copying them (a 3-minute sound's are
        about 200 MB: most of an edit's time), so `previous` must not be used afterwards; should the update fail,
        what it changed is put back and `previous` is whole again.
        """
        muted = previous.muted if muted is None else tuple(sorted(set(muted)))
        if grid.codes.shape != previous.codes.shape or muted != previous.muted:
            return self.full(grid, muted)
        with torch_threads(self.threads):
            return self._update(grid, previous, muted, reuse)

    @torch.no_grad()
    def _update(self, grid: CodeGrid, previous: Audition, muted: tuple[int, ...], reuse: bool) -> Audition:
        t0 = time.perf_counter()
        grid.check_model(self.codec.fingerprint, self.codec.codebook_sizes)
        cols = np.flatnonzero((grid.codes != previous.codes).any(axis=0))  # changed positions
        if reuse:
            db, phase, phase0, raw = previous.db, previous.phase, previous.phase0, previous.raw
        else:
            db = previous.db.copy()  # (F, T)
            phase = previous.phase.clone() if self.partial_iters is not None else previous.phase  # read only when warm
            phase0 = previous.phase0.clone()
            raw = previous.raw.copy()
        writes = _Writes(keep=reuse)
        t_total = db.shape[1]
        frames_lo, frames_hi, s_lo, s_hi = t_total, 0, len(raw), 0
        try:
            for p0, p1 in self._clusters(cols):
                a, b = self.rf.frames(p0, p1, t_total)
                new_db = self._decode_window(grid.codes, muted, p0, p1, a, b)  # (F, b - a)
                moved = np.flatnonzero(np.abs(new_db - db[:, a:b]).max(axis=0) > CHANGE_DB)
                writes.put(db, np.s_[:, a:b], new_db)
                if not len(moved):
                    continue
                fa, fb = a + int(moved[0]), a + int(moved[-1]) + 1  # frames whose magnitude really changed
                s0, s1 = self._splice(grid, db, phase, phase0, raw, fa, fb, (a, b), writes)
                frames_lo, frames_hi, s_lo, s_hi = min(frames_lo, fa), max(frames_hi, fb), min(s_lo, s0), max(s_hi, s1)
        except BaseException:
            writes.undo()  # `previous` as it was
            raise
        if frames_hi <= frames_lo:
            frames_lo = frames_hi = s_lo = s_hi = 0
        return Audition(
            audio=self._finish(raw, grid), db=db, phase=phase, phase0=phase0, raw=raw, codes=grid.codes.copy(), muted=muted,
            frames=(frames_lo, frames_hi), samples=(s_lo, s_hi), partial=True, seconds=time.perf_counter() - t0,
        )

    def _clusters(self, cols: np.ndarray) -> list[tuple[int, int]]:
        """Changed positions grouped into runs whose windows would overlap: [(p0, p1), ...]."""
        if not len(cols):
            return []
        gap = 2 * self.rf.context_positions + 2 * math.ceil(self.margin / self.rf.stride)
        breaks = np.flatnonzero(np.diff(cols) > gap)
        starts = np.concatenate([[cols[0]], cols[breaks + 1]])
        stops = np.concatenate([cols[breaks], [cols[-1]]]) + 1
        return [(int(s), int(e)) for s, e in zip(starts, stops, strict=True)]

    def _decode_window(self, codes: np.ndarray, muted: tuple[int, ...], p0: int, p1: int, a: int, b: int) -> np.ndarray:
        """Decoder output frames [a, b) computed from latent positions around [p0, p1) only."""
        ctx, total = self.rf.context_positions, codes.shape[1]
        # as wide as it would be in the middle of the grid, shifted inwards at its ends: every edit of one
        # width decodes the same shape (a new shape costs 20-200 ms the first time, in the convolutions' setup)
        s0 = max(min(p0 - ctx, total - (p1 - p0) - 2 * ctx), 0)
        s1 = min(s0 + (p1 - p0) + 2 * ctx, total)
        # a window inside the grid has real neighbours, not silence: its ends' frames are thrown away anyway
        out = self.codec.decode_db(codes[:, s0:s1], muted, edges=s0 == 0 or s1 == total)  # (F, (s1 - s0) * stride)
        off = s0 * self.rf.stride
        return out[:, a - off : b - off].cpu().numpy()

    def _renew_phase0(self, db: np.ndarray, phase0: torch.Tensor, a: int, b: int, scale: float,
                      writes: _Writes) -> tuple[int, int]:
        """Recompute in place the initial phase a full decode gives the edited sound, where decoder frames
        [a, b) may have changed (by any amount); returns the frames [start, stop) whose phase changed.

        PGHI integrates forward in time but starts afresh every `BLOCK` frames, so a change of frames
        [a, b) can reach the phase from a - 1 (the time differences are centred) to the first fresh start
        after b; everything else keeps its stored phase, as a full decode would. Its choices (regions,
        onsets) compare magnitudes, so even a change too small to splice can move them: the frames whose
        phase really moved are found by comparison.
        """
        spec, t_total = self.codec.spec, db.shape[1]
        lo = (max(a - 1, 0) // BLOCK) * BLOCK  # a fresh start: nothing before it matters
        end = min(-(-(b + 1) // BLOCK) * BLOCK, t_total)  # the first fresh start the change cannot reach
        c0, c1 = max(lo - 1, 0), min(end + 1, t_total)  # one frame of context each side
        mag = from_db(torch.from_numpy(db[:, c0:c1]), spec.floor_db)[None] * scale  # (1, F, c1 - c0)
        new = pghi_phase(mag, spec.n_fft, spec.hop_length, first_frame=c0)[0, :, lo - c0 : end - c0]  # (F, end - lo)
        moved = torch.nonzero((new - phase0[:, lo:end]).abs().amax(dim=0) > 1e-4).flatten()
        writes.put(phase0, np.s_[:, lo:end], new)
        if not len(moved):
            return a, a
        return lo + int(moved[0]), lo + int(moved[-1]) + 1

    def _splice(self, grid: CodeGrid, db: np.ndarray, phase: torch.Tensor, phase0: torch.Tensor, raw: np.ndarray,
                fa: int, fb: int, reach: tuple[int, int], writes: _Writes) -> tuple[int, int]:
        """Griffin-Lim over frames [fa, fb) plus a margin (see `Auditioner`); crossfade into `raw` in place.

        `reach`: the decoder frames the edit could change, whose initial phase is renewed."""
        spec = self.codec.spec
        hop, n_fft, t_total = spec.hop_length, spec.n_fft, db.shape[1]
        scale = self._scale(grid)
        if self.partial_iters is None:  # as the full decode: its initial phase (which may change further on)
            pa, pb = self._renew_phase0(db, phase0, *reach, scale, writes)
            if pb > pa:
                fa, fb = min(fa, pa), max(fb, pb)
        w0, w1 = max(fa - self.margin, 0), min(fb + self.margin, t_total)
        mag = from_db(torch.from_numpy(db[:, w0:w1]), spec.floor_db)[None] * scale  # (1, F, W)
        if self.partial_iters is None:  # ... and its iterations
            start, iters = phase0[None, :, w0:w1], self.iters
        else:  # warm: from the previous phase
            start, iters = phase[None, :, w0:w1], self.partial_iters
        gl = griffin_lim(mag, n_fft, hop, iters=iters, momentum=spec.griffin_lim_momentum,
                         length=(w1 - w0 - 1) * hop, phase=start)
        seg = gl.audio[0].cpu().numpy()  # (W - 1) * hop samples, starting at sample w0 * hop
        base = w0 * hop
        # the samples the changed frames reach; then a crossfade on each side (none at the sound's ends)
        c0, c1 = max(fa * hop - n_fft // 2, 0), min((fb - 1) * hop + n_fft // 2, len(raw))
        f0, f1 = max(c0 - self.fade, 0), min(c1 + self.fade, len(raw))
        if w0 > 0:
            f0 = max(f0, base + n_fft // 2)  # never use the segment's reflected edge
        if w1 < t_total:
            f1 = min(f1, base + len(seg) - n_fft // 2)
        f0, f1 = min(f0, c0), max(f1, c1)
        new = seg[f0 - base : f1 - base]
        gain = np.ones(f1 - f0, dtype=np.float32)  # weight of the new audio
        if f0 > 0 and c0 > f0:
            gain[: c0 - f0] = np.sin(0.5 * np.pi * (np.arange(c0 - f0) + 0.5) / (c0 - f0)) ** 2
        if f1 < len(raw) and f1 > c1:
            gain[c1 - f0 :] = np.cos(0.5 * np.pi * (np.arange(f1 - c1) + 0.5) / (f1 - c1)) ** 2
        writes.put(raw, np.s_[f0:f1], gain * new + (1 - gain) * raw[f0:f1])
        if self.partial_iters is not None:  # the next warm start begins from the new phases near the change
            keep0, keep1 = max(fa - 2, w0), min(fb + 2, w1)
            writes.put(phase, np.s_[:, keep0:keep1], gl.phase[0, :, keep0 - w0 : keep1 - w0])
        return f0, f1
