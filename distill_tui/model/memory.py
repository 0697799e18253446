"""The sound's own memory: each code leans toward the codes this sound has already used.

The prior's parts are fitted on the training files, so a sound the prior never heard is read with what other
sounds do. Yet within one sound the codes repeat: a pad stays on a handful of first-level codes, a loop comes back
to its hits. A cache (Kuhn & De Mori 1990, for words) turns that into probability: after the prior's
distribution p over a level's codes, the sound's own counts so far are added as evidence,

    p'(c) = (N(c) + kappa * p(c)) / (N + kappa),        N = sum over c of N(c),

so with no history the prior is unchanged, and the more the sound has shown, the more it leans on itself. N(c)
counts earlier positions t' < t of the same level whose code was c, each weighted by decay ** (t - 1 - t'):

- "uni": every earlier position of the level;
- "bi": only those whose previous code on the level equals this position's previous code (or that, like this
  one, begin the sound): the sound's own bigram;
- "cross": only those whose code one level up (coarser, same column; generated just before) equals this
  column's. Never for level 1.

Silent columns (level 1 at the code the VQ-VAE gives a silent frame, `PriorConfig.memory_silence`) are read but
never remembered: a one-shot is prompted with one, and a memory of silence made half the demo's one-shots silent
from start to end. Real sounds almost never hold the exact silent code (pads-drums-20: 0.3 % of columns).

Each level has its own setting (mode, decay, kappa) or none, chosen on the prior's folds
(`train/prior_folds.py`). The memory reads only codes generated before the one it predicts: sampling order is
unchanged. It is applied wherever a sound is scored or sampled: `PriorModel.forward` sees one window, the memory the
whole sound, so `windows_nll` adjusts each scored slot and the sampler keeps a `SoundMemory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # the prior imports this module
    from .prior import PriorConfig

Codes = np.ndarray | torch.Tensor  # (B,) codes, local to their level

MEMORY_MODES = ("uni", "bi", "cross")  # what a stored prior may hold
# What the folds choose among. Held-out likelihood hardly tells these apart (pads-drums-20 and -50: 44.5-49.4 % below
# the bigram for every set tried), generated sounds do (bench/RESULTS.md, "Ninth session"): "uni" at level 1 locks a
# sound onto its first codes (plausibility 11.15 dB against 10.45 without memory), and a memory that may decide
# nearly all of a prediction makes drones. Its largest share is N_max / (N_max + kappa), N_max = 1 / (1 - decay):
# 94 % (decay 0.97, kappa 2): 18 of 40 generated 4-s sounds hold one level-1 code over half their length; 89 %: 7;
# 83 %: 6; 81 %: 1; 71 %: 3; no memory: 0; the corpus's own sounds: 1 of 14.
CANDIDATE_MODES = ("bi", "cross")
MEMORY_DECAYS = (0.9, 0.97)  # about 10 and 33 columns of memory (0.5 and 1.5 s at 44.1 kHz, hop 512, stride 4)
MEMORY_KAPPAS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # how much history outweighs the prior: N = kappa is half and half
MAX_MEMORY_SHARE = 0.81  # the candidates' largest share of a prediction (see above)


def largest_share(decay: float, kappa: float) -> float:
    """The most a memory of this decay and kappa can weigh in a prediction, after a long run of one context."""
    n_max = 1.0 / (1.0 - decay) if decay < 1 else math.inf
    return 1.0 if math.isinf(n_max) else n_max / (n_max + kappa)


@dataclass(frozen=True)
class MemorySetting:
    """One level's memory: which earlier positions count ("uni", "bi" or "cross"), their decay per column, and kappa."""

    mode: str
    decay: float
    kappa: float


def memory_candidates(level: int) -> list[MemorySetting]:
    """Every setting the folds may choose for a level (0-based); level 0 has no coarser level to match."""
    modes = CANDIDATE_MODES if level > 0 else ("bi",)
    return [MemorySetting(m, d, k) for m in modes for d in MEMORY_DECAYS for k in MEMORY_KAPPAS
            if largest_share(d, k) <= MAX_MEMORY_SHARE]


def level_settings(cfg: PriorConfig) -> list[MemorySetting | None]:
    """The stored settings per level (None: no memory at that level, or a prior stored before it existed)."""
    if not cfg.memory_modes:
        return [None] * cfg.levels
    return [None if m == "none" else MemorySetting(m, d, k)
            for m, d, k in zip(cfg.memory_modes, cfg.memory_decays, cfg.memory_kappas, strict=True)]


def validate_memory(cfg: PriorConfig) -> str | None:
    """What is wrong with the config's memory fields, or None."""
    if not -1 <= cfg.memory_silence < cfg.codebook_sizes[0]:
        return f"the memory's silent code {cfg.memory_silence} is outside level 1's codebook"
    if not (cfg.memory_modes or cfg.memory_decays or cfg.memory_kappas):
        return None
    lists = (cfg.memory_modes, cfg.memory_decays, cfg.memory_kappas)
    if any(len(v) != cfg.levels for v in lists):
        return f"the memory needs one mode, decay and kappa per level ({cfg.levels})"
    for q, (m, d, k) in enumerate(zip(*lists, strict=True)):
        if m == "none":
            continue
        if m not in MEMORY_MODES or (m == "cross" and q == 0):
            return f"level {q + 1}'s memory mode {m!r} is not one of none, uni, bi{', cross' if q else ''}"
        if not (0 < d <= 1 and k > 0 and math.isfinite(k)):
            return f"level {q + 1}'s memory needs a decay in (0, 1] and a positive kappa, got {d} and {k}"
    return None


def true_counts(grid: np.ndarray, level: int, setting: MemorySetting, silence: int = -1
                ) -> tuple[np.ndarray, np.ndarray]:
    """For one grid (levels, T) of local codes: at each position t of `level`, the weighted count of its true code
    among the earlier ones that count, and the weighted count of all of them: two (T,) float arrays. Columns whose
    level-1 code is `silence` are not remembered."""
    row = np.asarray(grid[level], dtype=np.int64)
    k = int(row.max(initial=0)) + 1
    t_len = len(row)
    kept = np.asarray(grid[0]) != silence  # (T,)
    hit, total = np.zeros(t_len), np.zeros(t_len)
    key = np.zeros(t_len, dtype=np.int64) if setting.mode == "uni" else memory_keys(grid, level, setting.mode)
    table = np.zeros((int(key.max(initial=0)) + 1, k))
    for t in range(t_len):
        hit[t], total[t] = table[key[t], row[t]], table[key[t]].sum()
        table *= setting.decay
        table[key[t], row[t]] += float(kept[t])
    return hit, total


def memory_keys(grid: np.ndarray, level: int, mode: str) -> np.ndarray:
    """What a "bi" or "cross" position is matched on, per position (T,): the previous code of the level (at the
    sound's first position a key no code of the row uses), or the code one level up."""
    if mode == "cross":
        return np.asarray(grid[level - 1], dtype=np.int64)
    row = np.asarray(grid[level], dtype=np.int64)
    return np.concatenate([[int(row.max(initial=0)) + 1], row[:-1]])


def adjust_logp(logp_true: np.ndarray | torch.Tensor, hit: np.ndarray | torch.Tensor,
                total: np.ndarray | torch.Tensor, kappa: float) -> np.ndarray | torch.Tensor:
    """log p' of the true codes from the prior's log p of them and the memory's counts (all the same shape)."""
    lib = torch if isinstance(logp_true, torch.Tensor) else np
    return lib.log(hit + kappa * lib.exp(logp_true)) - lib.log(total + kappa)


def slot_memory(cfg: PriorConfig, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per slot of the grid read time-major (N = T * levels): (hit, total, kappa) for `adjust_logp`, with kappa
    +inf (no change) at levels without memory; None when the prior has none."""
    settings = level_settings(cfg)
    if not any(settings):
        return None
    q, t_len = cfg.levels, grid.shape[1]
    hit, total, kappa = np.zeros((t_len, q)), np.zeros((t_len, q)), np.full((t_len, q), np.inf)
    for lv, s in enumerate(settings):
        if s is not None:
            hit[:, lv], total[:, lv] = true_counts(grid, lv, s, cfg.memory_silence)
            kappa[:, lv] = s.kappa
    return hit.reshape(-1), total.reshape(-1), kappa.reshape(-1)


def adjust_slots(logp_true: torch.Tensor, memory: tuple[np.ndarray, np.ndarray, np.ndarray], s0: int, s1: int
                 ) -> torch.Tensor:
    """`adjust_logp` over slots [s0, s1) of one sequence (`slot_memory`'s arrays); slots without memory unchanged."""
    hit, total, kappa = (torch.from_numpy(a[s0:s1]).to(logp_true) for a in memory)
    on = torch.isfinite(kappa)
    k = torch.where(on, kappa, torch.ones_like(kappa))
    return torch.where(on, torch.log(hit + k * logp_true.exp()) - torch.log(total + k), logp_true)


class SoundMemory:
    """The sampler's running counts for a batch of sounds, one level at a time in generation's order.

    `lean(level, logp, above, previous)` turns the prior's log-probabilities over the level's K codes (B, K) into
    the memory's; `add(level, code, above, previous, first)` records the code just fixed at that level (B,) and
    decays the older ones. `above` is the column's code one level up (B,), read by "cross" levels; `previous` the
    level's previous code (B,), None at the sound's first position, read by "bi" levels; `first` the column's
    level-1 code (B,): a silent column is not remembered. Codes and log-probabilities may be numpy arrays or torch
    tensors; the counts and what `lean` returns are numpy (float64), which at one code per call costs a fraction of
    torch's fixed cost per operation."""

    def __init__(self, cfg: PriorConfig, batch: int) -> None:
        self.settings = level_settings(cfg)
        self.active = any(self.settings)
        self.rows = np.arange(batch)
        self.state: list[np.ndarray | None] = []
        self.sizes = list(cfg.codebook_sizes)
        self.silence = cfg.memory_silence
        for lv, s in enumerate(self.settings):
            k = cfg.codebook_sizes[lv]
            keys = {"uni": 1, "bi": k + 1, "cross": cfg.codebook_sizes[lv - 1] if lv else 1}
            self.state.append(None if s is None else np.zeros((batch, keys[s.mode], k)))

    def _key(self, level: int, above: Codes | None, previous: Codes | None) -> np.ndarray | int:
        s = self.settings[level]
        assert s is not None
        if s.mode == "uni":
            return 0
        if s.mode == "bi":
            return self.sizes[level] if previous is None else np.asarray(previous)  # the start row, or the previous code
        assert above is not None
        return np.asarray(above)

    def lean(self, level: int, logp: np.ndarray | torch.Tensor, above: Codes | None, previous: Codes | None
             ) -> np.ndarray:
        """The level's log-probabilities (B, K) after the memory (float64; unchanged, as given, at a level without)."""
        state, s = self.state[level], self.settings[level]
        if state is None or s is None:
            return logp
        counts = state[self.rows, self._key(level, above, previous)]  # (B, K)
        p = np.exp(np.asarray(logp, dtype=np.float64))  # (B, K)
        return np.log(counts + s.kappa * p) - np.log(counts.sum(axis=1, keepdims=True) + s.kappa)  # (B, K)

    def add(self, level: int, code: Codes, above: Codes | None, previous: Codes | None, first: Codes) -> None:
        state, s = self.state[level], self.settings[level]
        if state is None or s is None:
            return
        state *= s.decay
        state[self.rows, self._key(level, above, previous), np.asarray(code)] += np.asarray(first) != self.silence
