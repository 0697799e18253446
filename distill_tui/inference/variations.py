"""Variations of a sound: keep some levels (and what lies outside a region), resample the rest with the prior.

Built on `Prior.region_candidates`: the region's free slots are sampled left to right with the kept codes
read as context (or, when the model holds a masked prior, from both sides: `Prior.mask_candidates`), n
candidates in one batch. Every variation differs from its source and from the others;
a candidate that repeats one already taken is drawn again with the next seed (`MAX_ROUNDS` at most).

Given a `ShapeJudge` (`shape_judge`: the codec's decoder, no Griffin-Lim), `vary` draws `OVERSAMPLE` times
as many candidates and keeps those that keep the source's loudness envelope and still change it audibly
(docs/architecture.md, decision 39): resampling the finer levels of a pad can swell or hollow it, and on a
kick it may change next to nothing, so a few more draws, judged in the decoder's own spectrum, pick the
variations a musician would keep. A chosen variation whose loudness still strays from the source's is then
repaired position by position (`keep_loudness`): the positions that swell or hollow too far are redrawn a few
times and the draw that keeps their loudness and changes them most is kept, so the variation keeps the source's
shape over time while the rest of it stays as drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..analysis.closeness import closeness
from ..errors import BadInputError
from .sampling import MOST_CANDIDATES, SamplingSettings, draw_seed

if TYPE_CHECKING:
    from ..codes.grid import CodeGrid
    from .codec import Codec
    from .generate import Prior, RegionCandidate

# The prior's limit for a variation. The network reads a window of 16 positions (under a second) and the sound's
# memory (model/memory.py) only counts, so the limit is one of waiting, not of the model: every slot of the region
# is one step of the network, and the n variations are decoded one after another (bench/RESULTS.md has the rates
# on a shared 2-core CPU).
# A minute is far longer than the one-shots, loops and textures variations are for. `vary --max-seconds`
# raises it.
MAX_SECONDS = 60.0
MAX_ROUNDS = 8  # sampling rounds before giving up on n distinct variations
SEED_STEP = 7919  # the seed of round r is seed + r * SEED_STEP, so a rerun with the same seed repeats every round
BATCH_SEED_STEP = 15485863  # a round of more than MOST_CANDIDATES is drawn in batches, batch k at round seed + k * this
OVERSAMPLE = 3  # candidates drawn per variation when a shape judge chooses among them
MIN_ENVELOPE_R = 0.8  # a variation keeps its source's shape: loudness over time correlates at least this much
MIN_CHANGE_DB = 2.0  # and changes it audibly: at least this far from the source's decode (model domain)
# ... and adds no attack the source lacks: its largest rise from one frame to the next (mean dB over the bins, the
# decoder's output) at most this much above the source's. Redrawn codes put clicks into pads and kicks: in the audio,
# 8 % of variations (20 % with a nudge) rose more than 3 dB above their source's largest rise; this measure, which
# correlates 0.82 with that one, caught 81 % of them at 2 dB (bench/RESULTS.md, "Twenty-seventh session").
MAX_NEW_RISE_DB = 2.0
# A chosen variation whose envelope correlates less than this is repaired (`keep_loudness`): the judge works
# in the decoder's own output, and Griffin-Lim's audio of the same grid correlates a little less (bench_vary.py).
REPAIR_BELOW_R = 0.9
REPAIR_ROUNDS = 4  # rounds of `keep_loudness` for a chosen variation that lost its source's shape
REPAIR_CANDIDATES = 8  # draws per round, judged position by position
REPAIR_SEED_STEP = 104729  # repair round r of a variation drawn with seed s uses s + k + r * REPAIR_SEED_STEP
FLAT_DB = 1e-4  # an envelope whose spread is below this has no shape to keep (float32 loudness rounds at ~1e-6)
# Nudging the kept levels (`vary(nudge=...)`): for a sound whose finer levels hold too little to vary it (a kick, a
# drone), candidates also move this share of the kept levels' positions to one of their code's NUDGE_NEAR nearest
# codes; the candidates are drawn at every share, none moved among them, and the judge keeps what keeps the shape
# and changes it (a sound whose finer levels are enough keeps its kept levels as they are).
NUDGE_SHARES = (0.0, 0.2, 0.4, 0.7)
NUDGE_NEAR = 8


@dataclass(frozen=True)
class Shape:
    """How a candidate compares with its source, both decoded to relative dB by the model (no phase)."""

    change_db: float  # `frame_distance_db` to the source's decode
    envelope_r: float  # Pearson r of per-position loudness (dB); 1.0 when the source has no envelope to keep
    new_rise_db: float = 0.0  # its largest frame-to-frame rise (`largest_rise`) above the source's; <= 0: none new

    @property
    def keeps_shape(self) -> bool:
        """Its loudness follows the source's over time, and no new attack (a click) stands out of it."""
        return self.envelope_r >= MIN_ENVELOPE_R and self.new_rise_db <= MAX_NEW_RISE_DB

    @property
    def audible(self) -> bool:
        return self.change_db >= MIN_CHANGE_DB

    def words(self) -> str:
        """How it compares with the source, in words: "changed (3.1 dB), same shape over time"."""
        how = closeness(self.change_db)
        shape = "same shape" if self.keeps_shape else "a new shape" if self.envelope_r < MIN_ENVELOPE_R else "a new attack"
        return f"{'subtle' if how.word == 'close' else how.word} ({self.change_db:.1f} dB), {shape} over time"


ShapeJudge = Callable[[np.ndarray], Shape]  # codes (levels, positions) -> Shape


def largest_rise(db: torch.Tensor, frames: int, floor_db: float = -80.0) -> float:
    """Relative dB (F, T) -> the largest rise from one frame to the next among the first `frames`, in dB: the mean
    over the bins of each frame's increase on the one before, floored at `floor_db` (0 for under two frames)."""
    d = db[:, :frames].float().clamp_min(floor_db)
    if d.shape[1] < 2:
        return 0.0
    return float((d[:, 1:] - d[:, :-1]).clamp_min(0).mean(dim=0).max())


def loudness_envelope(db: torch.Tensor, stride: int, floor_db: float = -80.0) -> np.ndarray:
    """Relative dB (F, T) -> loudness per grid position (T / stride,), dB of the mean power, floored at
    `floor_db` below the loudest position."""
    return loudness_envelopes(db[None], stride, floor_db)[0]


def loudness_envelopes(db: torch.Tensor, stride: int, floor_db: float = -80.0) -> np.ndarray:
    """Relative dB (B, F, T) -> loudness per grid position (B, T / stride), each floored at `floor_db` below
    its own loudest position."""
    power = torch.pow(10.0, db.float() / 10).mean(dim=1)  # (B, T); float32: within 1e-6 dB of float64, 2.5x faster
    t = power.shape[1] // stride * stride
    env = 10 * torch.log10(power[:, :t].reshape(power.shape[0], -1, stride).mean(dim=2).clamp_min(1e-30))  # (B, P)
    if env.shape[1]:
        env = torch.maximum(env, env.amax(dim=1, keepdim=True) + floor_db)
    return env.numpy()


class SourceShape:
    """A judge of candidates against a source grid (levels, positions), both decoded by the codec's decoder
    (relative dB, no Griffin-Lim): called with codes it gives their `Shape`; `per_position` gives the loudness
    and the change of many candidates at every position, which `keep_loudness` repairs with."""

    def __init__(self, codec: Codec, source: np.ndarray, samples: int | None = None) -> None:
        self.codec, self.stride = codec, codec.cfg.stride
        self.source = np.array(source)  # (levels, positions)
        self.source_db = codec.decode_db(source)  # (F, T)
        self.envelope = loudness_envelope(self.source_db, self.stride)  # (P,)
        # The columns the sound fills: a last column mostly past its end decodes near silence, and that one
        # drop made every variation of a steady sound correlate 0.98 with its source (bench/RESULTS.md,
        # "Thirteenth session"). The whole grid when the length is not known.
        per_column = self.stride * codec.spec.hop_length if samples else 0
        self.heard = self.envelope.size if not per_column else int(np.clip(samples // per_column, 1, self.envelope.size))
        heard = self.envelope[: self.heard]
        self.flat = heard.size < 3 or float(heard.std()) < FLAT_DB
        # How far a position's loudness may stray from the source's: half the envelope's spread, so that
        # errors within it leave the correlation near 0.9 (r = s / sqrt(s^2 + e^2)), 0.5-3 dB.
        self.tolerance_db = float(np.clip(0.5 * heard.std(), 0.5, 3.0)) if heard.size else 3.0
        self.rise_db = largest_rise(self.source_db, self.heard * self.stride)

    def __call__(self, codes: np.ndarray) -> Shape:
        from ..model.vqvae import frame_distance_db

        db = self.codec.decode_db(codes)  # (F, T)
        t = self.heard * self.stride
        change = float(frame_distance_db(db[None, :, :t], self.source_db[None, :, :t])[0])
        rise = largest_rise(db, t) - self.rise_db
        if self.flat:
            return Shape(change, 1.0, rise)
        env = loudness_envelope(db, self.stride)[: self.heard]
        r = 0.0 if float(env.std()) < FLAT_DB else float(np.corrcoef(env, self.envelope[: self.heard])[0, 1])
        return Shape(change, r, rise)

    @torch.no_grad()
    def per_position(self, grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """grids (B, levels, positions) -> (loudness (B, P) in dB, change (B, P): the mean |dB| difference from
        the source's decode over each position's frames), decoded in one batch."""
        db = self.codec.decode_db_batch(grids)  # (B, F, T)
        b, p = db.shape[0], self.envelope.size
        diff = (db.clamp_min(-80.0) - self.source_db.cpu().clamp_min(-80.0)).abs().mean(dim=1)  # (B, T)
        change = diff[:, : p * self.stride].reshape(b, p, self.stride).mean(dim=2).numpy()  # (B, P)
        return loudness_envelopes(db, self.stride), change


def shape_judge(codec: Codec, source: np.ndarray, samples: int | None = None) -> SourceShape:
    """A judge of candidates against `source` (levels, positions), both decoded by `codec`'s decoder, over the
    columns a sound of `samples` samples fills (None: every column)."""
    return SourceShape(codec, source, samples)


def keep_loudness(prior: Prior, shape: SourceShape, codes: np.ndarray, free_levels: list[int],
                  region: tuple[int, int], settings: SamplingSettings, rounds: int = REPAIR_ROUNDS,
                  candidates: int = REPAIR_CANDIDATES) -> np.ndarray:
    """Redraw, a few rounds, the free cells of the positions whose loudness strays from the source's by more than
    `shape.tolerance_db`; at each such position keep, of the current codes, the source's own and `candidates`
    new draws, the one that changes the sound most among those within the tolerance (else the nearest in
    loudness).

    codes (levels, positions) -> repaired codes (levels, positions); cells outside `free_levels` x `region`, and
    the columns past the sound's end (`shape.heard`), are never touched. Positions are judged one by one in the decoder's own output, then the mixed grid is judged
    whole against the current one (neighbours reach into a position through the decoder). So a sound whose finer
    levels swell or hollow it keeps its envelope while the rest of the variation stays as drawn.
    """
    start, end = region
    current = codes.copy()
    inside = np.zeros(codes.shape[1], dtype=bool)
    inside[start : min(end, shape.heard)] = True  # the columns past the sound's end are not judged: not repaired

    def strays(loud: np.ndarray) -> np.ndarray:  # (B, P) -> (B,) dB beyond the tolerance, summed in the region
        return np.clip(np.abs(loud - shape.envelope[None]) - shape.tolerance_db, 0, None)[:, inside].sum(axis=1)

    now_loud, now_change = shape.per_position(current[None])  # the current grid's, decoded once per change of it
    for r in range(rounds):
        redraw = inside & (np.abs(now_loud[0] - shape.envelope) > shape.tolerance_db)  # (P,)
        if not redraw.any():
            break
        free = np.zeros(codes.shape, dtype=bool)
        free[np.ix_(free_levels, np.flatnonzero(redraw))] = True
        seed = None if settings.seed is None else settings.seed + (r + 1) * REPAIR_SEED_STEP
        drawn = prior.mask_candidates(current, free, replace(settings, seed=seed), candidates=candidates)
        back = current.copy()  # the source's own codes in the redrawn cells: the fallback that keeps its loudness
        back[free] = shape.source[free]
        pool = np.stack([back] + [c.codes for c in drawn])  # (C + 1, levels, positions); the current grid is known
        loud, change = shape.per_position(pool)
        loud, change = np.concatenate([now_loud, loud]), np.concatenate([now_change, change])  # (C + 2, P)
        pool = np.concatenate([current[None], pool])
        miss = np.abs(loud - shape.envelope[None])  # (C + 2, P)
        best = np.where(miss <= shape.tolerance_db, -change, 1e6 + miss).argmin(axis=0)  # (P,)
        at = np.flatnonzero(redraw)
        mixed = current.copy()
        mixed[:, at] = pool[best[at], :, at].T
        # Neighbours reach into a position through the decoder, so the mix is judged whole: it is kept when it
        # strays no more than the current grid (summed dB beyond the tolerance inside the region, to 0.1 dB)
        # and is either closer to the envelope or, as far, changed more.
        mixed_loud, mixed_change = shape.per_position(mixed[None])
        loud, change = np.concatenate([now_loud, mixed_loud]), np.concatenate([now_change, mixed_change])  # (2, P)
        excess = np.round(strays(loud), 1)  # (2,)
        whole = change[:, inside].mean(axis=1)  # (2,)
        if excess[1] < excess[0] or (excess[1] == excess[0] and whole[1] > whole[0]):
            current, now_loud, now_change = mixed, mixed_loud, mixed_change
    return current


def _rank(shape: Shape, moved: bool = False) -> tuple:
    """Lower is a better variation: those that keep the shape and change audibly (the kept levels kept as they are
    before those a nudge moved, then the most faithful shape first), then those that keep the shape (the most
    changed first), then the rest (the best shape first)."""
    if shape.keeps_shape and shape.audible:
        return (0, moved, -shape.envelope_r)
    if shape.keeps_shape:
        return (1, -shape.change_db)
    return (2, -shape.envelope_r)


def _choose(found: list[tuple[Variation, Shape]], n: int) -> list[Variation]:
    """The n candidates to keep, the best first by `_rank`."""
    chosen = sorted(found, key=lambda item: _rank(item[1], item[0].moved > 0))[:n]
    return [replace(v, index=k, shape=shape) for k, (v, shape) in enumerate(chosen, 1)]


def _repaired(prior: Prior, shape: SourceShape, v: Variation, source: np.ndarray, free: list[int],
              region: tuple[int, int], settings: SamplingSettings, seen: set[bytes]) -> Variation:
    """`v` repaired (`keep_loudness`) when it lost some of the source's shape; kept as drawn when the result is
    no better a variation (`_rank`: a repair that keeps the shape but leaves the change subtle is not taken),
    or is a grid already taken."""
    if v.shape is None or v.shape.envelope_r >= REPAIR_BELOW_R:
        return v
    seed = None if settings.seed is None else v.seed + v.index
    fixed = keep_loudness(prior, shape, v.codes, free, region, replace(settings, seed=seed))
    key = fixed.tobytes()
    if key in seen:
        return v
    new = shape(fixed)
    if _rank(new, v.moved > 0) >= _rank(v.shape, v.moved > 0):
        return v
    seen.add(key)
    start, end = region
    differ = int((fixed[free, start:end] != source[free, start:end]).sum())
    return replace(v, codes=fixed, changed=differ / (len(free) * (end - start)), shape=new)


@dataclass
class Variation:
    """One variation: the whole grid, and how it was drawn."""

    index: int  # 1-based, the k of `<name>-var<k>`
    codes: np.ndarray  # (levels, positions): the source outside the resampled cells
    changed: float  # share of the resampled cells whose code differs from the source's
    join_nll: float  # how unlikely the prior finds the kept codes after it (lower joins better)
    seed: int  # the seed of the round that drew it
    shape: Shape | None = None  # how it compares with the source, when a judge chose it
    moved: float = 0.0  # share of the kept cells a nudge moved to a near code (`vary(nudge=...)`)


@dataclass
class VariationSet:
    """n variations of one grid."""

    variations: list[Variation]
    keep_levels: list[int]  # 0-based levels copied from the source
    region: tuple[int, int]  # [start, end) positions resampled
    seed: int  # the first round's seed: the same seed, settings and source give the same set
    rounds: int  # sampling rounds it took to get n distinct variations


def load_sound(codec: Codec, path: Path, max_seconds: float | None = MAX_SECONDS) -> CodeGrid:
    """SOUND as a grid of `codec`'s codes: a .codes.json of this model, or audio encoded at the model's rate.

    Refuses (`BadInputError` naming the file) a codes file of another model and a sound over `max_seconds`.
    """
    from ..codes.grid import CodeGrid, over_limit, peek_seconds
    from ..data.dataset import load_named_audio
    from ..errors import printable

    path = Path(path)
    limit = math.inf if max_seconds is None else max_seconds
    too_long = f"SOUND is {{:.1f}} s long, over the limit of {limit:g} s for variations (--max-seconds raises it)"
    if path.name.lower().endswith(".json"):
        seconds = None if max_seconds is None else peek_seconds(path, max_seconds=max_seconds)
        if seconds is not None:
            raise BadInputError(too_long.format(seconds), path)
        grid = CodeGrid.load(path)
        grid.check_model(codec.fingerprint, codec.codebook_sizes, path)
        if max_seconds is not None and over_limit(grid.positions, grid.seconds_per_position, max_seconds):
            raise BadInputError(too_long.format(grid.seconds), path)
        return grid
    audio = load_named_audio(path, codec.spec.sample_rate, max_seconds=None if max_seconds is None else limit + 1.0)
    if audio.seconds > limit:
        raise BadInputError(too_long.format(audio.source_seconds), path)
    return codec.encode_samples(audio.samples, name=printable(path.stem), source={"file": printable(path)})


def parse_levels(text: str, levels: int, what: str = "--keep-levels") -> list[int]:
    """'1,2' (1 = coarsest) -> 0-based levels ('none' keeps none); refuses numbers outside 1..levels and
    keeping every level."""
    if text.strip().lower() == "none":
        return []
    try:
        chosen = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise BadInputError(f"{what} must be level numbers like 1 or 1,2, got {text!r}") from None
    if any(not 1 <= v <= levels for v in chosen):
        raise BadInputError(f"{what} {text} is outside this model's levels (1 to {levels})")
    if len(chosen) >= levels:
        raise BadInputError(f"{what} {text} keeps every level: nothing would be left to vary (at most {levels - 1})")
    return [v - 1 for v in chosen]


def near_codes(codec: Codec, k: int = NUDGE_NEAR) -> list[np.ndarray]:
    """Per level, each code's k nearest codes in the model's embedding space ((K, k) each): what `vary` nudges
    kept codes to."""
    from ..model.latent import neighbours_by_level

    return neighbours_by_level(codec.model.quantizer, len(codec.codebook_sizes), k)


def nudged(codes: np.ndarray, levels: list[int], region: tuple[int, int], neighbours: list[np.ndarray], share: float,
           rng: np.random.Generator) -> np.ndarray:
    """codes (levels, positions) with about `share` of the region's positions of each of `levels` moved to one of
    their code's nearest codes (`neighbours[level]`: (K, k)); at least one position moves when the region has any."""
    out = codes.copy()
    start, end = region
    for lv in levels:
        pick = np.flatnonzero(rng.random(end - start) < share) + start
        if not pick.size:
            pick = np.array([start + int(rng.integers(end - start))])
        near = neighbours[lv]
        out[lv, pick] = near[out[lv, pick], rng.integers(0, near.shape[1], pick.size)]
    return out


def vary(prior: Prior, codes: np.ndarray, n: int, settings: SamplingSettings, *, keep_levels: list[int] | None = None,
         region: tuple[int, int] | None = None, max_rounds: int = MAX_ROUNDS, judge: ShapeJudge | None = None,
         on_ready: Callable[[Variation], None] | None = None,
         nudge: list[np.ndarray] | None = None) -> VariationSet:
    """n distinct variations of `codes` (levels, positions): `keep_levels` (0-based, default the coarsest) and the
    positions outside `region` (default: the whole grid) are kept; the other cells are sampled from the prior.
    With a `judge`, `OVERSAMPLE` times as many are drawn and the n that best keep the shape are kept (`_choose`).
    `on_ready` (if given) is called with each variation, in order, as soon as it is final: the repair of the
    next ones (`keep_loudness`, most of the time) has not begun, so a caller can let it be heard meanwhile.
    `nudge` (per level, each code's nearest codes: `near_codes`) lets the kept levels move a little too: the
    candidates are drawn in `NUDGE_SHARES` groups, each from the source with that share of the kept levels'
    positions in the region moved to a near code (`nudged`; none in the first group), so the kept levels change
    only to codes the model places beside theirs, and with a judge only where keeping them left too little change.

    Raises `BadInputError` for n < 1, levels outside the model's, a region outside the grid, or when
    `max_rounds` rounds cannot find n variations that differ (a temperature or top-k too low to vary).
    """
    codes = prior.check_codes(codes, "the sound's codes")
    if n < 1:
        raise BadInputError(f"the number of variations must be at least 1, got {n}")
    keep = [0] if keep_levels is None else sorted(set(keep_levels))
    if any(not 0 <= lv < prior.levels for lv in keep):
        raise BadInputError(f"levels to keep must be between 1 and {prior.levels}, got {[lv + 1 for lv in keep]}")
    free = [lv for lv in range(prior.levels) if lv not in keep]
    if not free:
        raise BadInputError("every level is kept: nothing would be left to vary")
    start, end = region if region is not None else (0, codes.shape[1])
    if not 0 <= start < end <= codes.shape[1]:
        raise BadInputError(f"region {start}:{end} must lie inside the grid's {codes.shape[1]} positions and not be empty")
    settings.validate()
    if nudge is not None and not keep:
        raise BadInputError("nudging moves the kept levels: keep at least one level")
    seed = draw_seed() if settings.seed is None else settings.seed  # every round follows from it: the set replays
    want = n * (OVERSAMPLE if judge is not None else 1)
    taken: list[Variation] = []
    seen = {codes.tobytes()}
    cells = len(free) * (end - start)
    rounds = 0
    while len(taken) < want and rounds < max_rounds:
        round_seed = seed + rounds * SEED_STEP
        found = _draw(prior, codes, keep, free, (start, end), nudge, replace(settings, seed=round_seed), want - len(taken))
        rounds += 1
        for cand in found:
            key = cand.codes.tobytes()
            if key in seen:
                continue
            seen.add(key)
            differ = int((cand.codes[free, start:end] != codes[free, start:end]).sum())
            moved = 0.0 if nudge is None else float((cand.codes[keep, start:end] != codes[keep, start:end]).mean())
            taken.append(Variation(len(taken) + 1, cand.codes, differ / cells, float(cand.join_nll), round_seed,
                                   moved=moved))
    if len(taken) < n:
        raise BadInputError(f"only {len(taken)} of {n} variations differed after {rounds} rounds of sampling: "
                            "raise the temperature, or keep fewer levels")
    if judge is not None:
        taken = _choose([(v, judge(v.codes)) for v in taken], n)
    final: list[Variation] = []
    for v in taken:
        if isinstance(judge, SourceShape):
            v = _repaired(prior, judge, v, codes, free, (start, end), settings, seen)
        final.append(v)
        if on_ready is not None:
            on_ready(v)
    taken = final
    return VariationSet(taken, keep, (start, end), int(seed), rounds)


def _draw(prior: Prior, codes: np.ndarray, keep: list[int], free: list[int], region: tuple[int, int],
          nudge: list[np.ndarray] | None, settings: SamplingSettings, count: int) -> list[RegionCandidate]:
    """`count` candidates for the `free` levels of `region` in `codes` (levels, positions), in batches of at most
    `MOST_CANDIDATES` (the k-th batch's seed moves on by `k * BATCH_SEED_STEP`); with `nudge`, each from its own
    nudge of the `keep` levels, the `NUDGE_SHARES` groups side by side in a batch."""
    start, end = region
    cells = np.zeros(codes.shape, dtype=bool)  # (levels, positions): the cells redrawn
    cells[np.ix_(free, np.arange(start, end))] = True
    found: list[RegionCandidate] = []
    for k, first in enumerate(range(0, count, MOST_CANDIDATES)):
        size = min(MOST_CANDIDATES, count - first)
        batch = replace(settings, seed=settings.seed + k * BATCH_SEED_STEP)
        if nudge is None:
            found += prior.region_candidates(codes, start, end, batch, levels=free, candidates=size)
            continue
        rng = np.random.default_rng(batch.seed)
        groups = len(NUDGE_SHARES)
        shares = [share for g, share in enumerate(NUDGE_SHARES) for _ in range(size // groups + (g < size % groups))]
        starts = np.stack([nudged(codes, keep, region, nudge, share, rng) if share else codes for share in shares])
        found += prior.candidates_from(starts, cells, batch)  # starts: (size, levels, positions)
    return found
