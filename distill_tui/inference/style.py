"""New sounds in the style of chosen ones: the prior prompted with a stretch of a chosen sound, and leaned toward
the chosen sounds' code habits.

Two means, used together (bench/RESULTS.md, sixth session has what each does on real sounds):

- a prompt: a stretch of a chosen sound's codes is laid in the prior's window as the past, the new sound is
  generated on from there, and the stretch is left out of the result. The prior reads at most one window
  (`PriorConfig.context` positions, under a second), so the prompt steers the new sound's beginning only.
- a lean (`strength` > 0): a smoothed same-level bigram of the chosen sounds (how often each code follows each
  other code on its level, backed off to how often each code occurs) is added to the prior's scores in log
  space, times `strength`, at every draw: the prior's choice multiplied by the chosen sounds' habits raised to
  `strength`. It lasts the whole sound. 0 is the prompt alone.

With several chosen sounds, the k-th new sound is prompted from the (k mod m)-th; the lean pools them all.
One-shots are not prompted (a hit laid before their silent column made them less plausible): the lean alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..analysis.memorization import bigram_counts
from ..errors import BadInputError
from ..words import counted
from .sampling import SamplingSettings, draw_seed

if TYPE_CHECKING:
    from .codec import Codec
    from .generate import Prior

MAX_STRENGTH = 4.0  # beyond this the lean drowns the prior: the chosen sound's bigram alone, replayed
DEFAULT_STRENGTH = 2.0  # a drum loop's windows came nearest to it 75 % of the time at 2, 38 % at 1 (bench/RESULTS.md, sixth session)
MIN_PROMPT = 2  # positions: a chosen sound shorter than this cannot prompt
UNIGRAM_ALPHA = 0.5  # add-alpha smoothing of each level's code counts
BACKOFF = 2.0  # pseudo-count of the unigram inside each bigram row: a code seen once does not decide alone
SEED_STEP = 7919  # the k-th sound's seed is seed + k * SEED_STEP, so a rerun with the same seed repeats every sound
MODES = ("generate", "loop", "one-shot")


@dataclass
class StyleBias:
    """The lean toward the chosen sounds: per level, strength * log p(next | previous) of their smoothed bigram.

    Callable as `inference.generate.LevelBias`: `bias(level, previous)` gives the scores to add, (B, K) for the
    same level's previous local codes (B,), or (1, K) (the smoothed unigram) when there is none yet.
    """

    log_trans: list[torch.Tensor]  # per level (K, K): strength * log p(next | previous)
    log_start: list[torch.Tensor]  # per level (1, K): strength * log p(code)
    strength: float

    def __call__(self, level: int, previous: torch.Tensor | None) -> torch.Tensor:
        if previous is None:
            return self.log_start[level]
        return self.log_trans[level][previous]  # (B, K)


def style_bias(grids: list[np.ndarray], sizes: list[int], strength: float) -> StyleBias:
    """The lean toward `grids` (each (levels, positions) of local codes) with weight `strength` in [0, MAX_STRENGTH].

    p(next | prev) = (count(prev, next) + BACKOFF * u(next)) / (count(prev) + BACKOFF), with
    u(code) = (count(code) + UNIGRAM_ALPHA) / (total + UNIGRAM_ALPHA * K): every code keeps some chance.
    """
    check_strength(strength)
    starts, trans = bigram_counts(grids, sizes)
    del starts  # a sound's first code is one sample: the unigram says more
    log_trans, log_start = [], []
    for q, k in enumerate(sizes):
        counts = np.zeros(k)
        for g in grids:
            counts += np.bincount(np.asarray(g[q], dtype=np.int64), minlength=k)[:k]
        uni = (counts + UNIGRAM_ALPHA) / (counts.sum() + UNIGRAM_ALPHA * k)  # (K,)
        t = trans[q]  # (K, K) previous -> next
        cond = (t + BACKOFF * uni[None]) / (t.sum(axis=1, keepdims=True) + BACKOFF)  # (K, K)
        log_trans.append(torch.from_numpy(strength * np.log(cond)).float())
        log_start.append(torch.from_numpy(strength * np.log(uni)).float()[None])
    return StyleBias(log_trans, log_start, strength)


def check_strength(strength: float) -> None:
    if not 0 <= strength <= MAX_STRENGTH:
        raise BadInputError(f"--strength must be between 0 and {MAX_STRENGTH:g}, got {strength:g}")


@dataclass
class StyledSound:
    """One new sound and where its prompt came from."""

    codes: np.ndarray  # (levels, positions), the prompt left out
    like: int  # index of the chosen sound that prompted it
    prompt: tuple[int, int]  # [start, end) positions of that sound laid before it ((0, 0): none)
    seed: int


@dataclass
class StyleSet:
    sounds: list[StyledSound]
    seed: int  # the first sound's seed: the same seed, settings and chosen sounds give the same set
    strength: float
    prompt_positions: int  # the longest prompt asked for


def prompt_length(prior: Prior, grids: list[np.ndarray], names: list[str] | None = None) -> int:
    """How many positions of each chosen sound prompt the prior: a window's worth (a shorter sound prompts whole).

    The first new position then reads the prompt's last half window (windows start at multiples of half
    a window). Raises `BadInputError` (naming the sound) for a sound shorter than MIN_PROMPT positions.
    """
    for i, g in enumerate(grids):
        if g.shape[1] < MIN_PROMPT:
            who = names[i] if names else f"chosen sound {i + 1}"
            raise BadInputError(f"--like {who}: {counted(g.shape[1], 'position')} is too short to prompt the prior "
                                f"(at least {MIN_PROMPT})")
    return prior.cfg.context


def _draw_prompt(grid: np.ndarray, length: int, rng: np.random.Generator) -> tuple[int, int]:
    n = min(length, grid.shape[1])
    a = int(rng.integers(0, grid.shape[1] - n + 1))
    return a, a + n


def generate_like(prior: Prior, grids: list[np.ndarray], n: int, positions: int | list[int],
                  settings: SamplingSettings, *, strength: float = DEFAULT_STRENGTH, mode: str = "generate",
                  codec: Codec | None = None, silence: np.ndarray | None = None, candidates: int | None = None,
                  names: list[str] | None = None, prompt: bool = True) -> StyleSet:
    """n new grids (levels, positions) in the style of `grids` (each (levels, positions) of this prior's codes).

    `positions` is one length for all, or one per sound. `mode` "loop" needs `codec` (the wrap is chosen on
    the decoder's spectrum, as `generate --loop` does); "one-shot" needs `silence` (the silent column) and
    is not prompted: the lean alone shapes it. `prompt=False`: the lean alone in every mode. Raises
    `BadInputError` for no sounds, n < 1, a sound too short to prompt, or a strength out of range.
    """
    if not grids:
        raise BadInputError("--like needs at least one sound")
    if n < 1:
        raise BadInputError(f"-n must be at least 1, got {n}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    grids = [prior.check_codes(g, f"--like {names[i] if names else i + 1}") for i, g in enumerate(grids)]
    lengths = [positions] * n if isinstance(positions, int) else list(positions)
    if len(lengths) != n:
        raise ValueError("one length per sound")
    bias = style_bias(grids, prior.codebook_sizes, strength) if strength > 0 else None
    prompt = prompt and mode != "one-shot"  # a hit laid before the silent column made worse one-shots (bench/RESULTS.md, sixth session)
    length = prompt_length(prior, grids, names) if prompt else 0
    settings.validate()
    seed = settings.seed if settings.seed is not None else draw_seed()
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        like = k % len(grids)
        a, b = _draw_prompt(grids[like], length, rng) if prompt else (0, 0)
        lead = grids[like][:, a:b] if prompt else None  # (Q, L)
        s = replace(settings, seed=seed + k * SEED_STEP)
        codes = _one(prior, lead, lengths[k], s, bias, mode, codec, silence, candidates)
        out.append(StyledSound(codes, like, (a, b), int(s.seed or 0)))
    return StyleSet(out, int(seed), strength, length)


def _one(prior: Prior, lead: np.ndarray | None, positions: int, settings: SamplingSettings, bias: StyleBias | None,
         mode: str, codec: Codec | None, silence: np.ndarray | None, candidates: int | None) -> np.ndarray:
    """One new grid (levels, positions) after the prompt `lead` (levels, L), the prompt left out (None: no prompt)."""
    if mode == "one-shot":
        if silence is None:
            raise ValueError("a one-shot needs the silent column")
        return prior.one_shot(silence, positions, settings, candidates=candidates or 8, bias=bias)
    if mode == "loop":
        from ..analysis.generation import loop_seam
        from .loops import DEFAULT_CANDIDATES, loop_spectrum

        if codec is None:
            raise ValueError("a loop needs the codec to hear its wrap")
        found = prior.loop_candidates(max(positions, 2), settings, candidates=candidates or DEFAULT_CANDIDATES,
                                      lead=lead, bias=bias)
        ratios = [loop_seam(loop_spectrum(codec, c.codes)).ratio for c in found]
        return found[int(np.argmin(ratios))].codes
    if lead is None:
        return prior.generate_batch(1, positions, settings, bias=bias)[0]
    total = lead.shape[1] + positions
    return prior.continue_codes(lead, lead.shape[1], total, settings, bias=bias)[:, lead.shape[1]:]
