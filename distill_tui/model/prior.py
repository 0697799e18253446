"""Stage-2 prior: a tiny causal Transformer or LSTM over code grids read time-major, levels interleaved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .memory import adjust_slots, level_settings, slot_memory, validate_memory
from .ngram import NgramPart, ngram_fits
from .prior_windows import Window, scoring_windows, window_for_time  # noqa: F401 - re-exported

ARCHITECTURES = ("transformer", "lstm")
BLENDS = ("none", "linear", "product")  # how a stored same-level bigram joins the network's prediction


class CodeVocab:
    """One token space for every level: level q's codes are tokens offsets[q] .. offsets[q] + codebook_sizes[q] - 1."""

    codebook_sizes: list[int]

    @property
    def vocab(self) -> int:
        return sum(self.codebook_sizes)

    @property
    def offsets(self) -> list[int]:
        return [0, *np.cumsum(self.codebook_sizes)[:-1].tolist()]


@dataclass
class PriorConfig(CodeVocab):
    """The prior's shape. The token at slot i = t * levels + q is code q of time position t.

    Each slot's input is the sum of: the previous token (or a start token), the previous code of the
    same level (the bigram's evidence, given directly), the level and the time position in the window.
    """

    architecture: str = "transformer"  # "transformer" or "lstm"; chosen by measurement (bench/RESULTS.md)
    levels: int = 3
    codebook_sizes: list[int] = field(default_factory=lambda: [64, 64, 64])
    context: int = 16  # time positions in the window (tokens: context * levels); even. 16 beat 32 and 64 (bench/RESULTS.md)
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    dropout: float = 0.3
    corrupt: float = 0.08  # share of input tokens replaced by a random code of their level while training
    bigram_base: bool = False  # learn a correction to a smoothed same-level bigram (see PriorModel); also the fallback
    # Blend with a stored same-level bigram after training (see `blend_logp`); the weights, one per level, are
    # fitted on the folds' held-out sounds. "none" in priors stored before the blend existed.
    blend: str = "none"
    blend_weights: list[float] = field(default_factory=list)
    # A linear blend's third part (model/cross_level.py): each level's share of the cross-level table, the code
    # given the previous slot's (level l - 1 at the same time); the bigram gets 1 - blend - cross. Empty: none.
    cross_weights: list[float] = field(default_factory=list)
    # A linear blend's fourth part (model/ngram.py): each level's share of the Kneser-Ney n-gram over the previous
    # `ngram_order` - 1 same-level codes; the bigram gets what the other parts leave. Empty: none.
    ngram_weights: list[float] = field(default_factory=list)
    ngram_order: int = 0
    # The sound's own memory (model/memory.py), per level: "uni", "bi", "cross" or "none", decay and kappa. Empty: none.
    memory_modes: list[str] = field(default_factory=list)
    memory_decays: list[float] = field(default_factory=list)
    memory_kappas: list[float] = field(default_factory=list)
    memory_silence: int = -1  # level 1's code of a silent column, whose columns the memory skips; -1: none

    @property
    def hop(self) -> int:
        """How far the window slides: half the context, so every token keeps at least half a window of past."""
        return max(1, self.context // 2)

    def validate(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise BadInputError(f"unknown prior architecture {self.architecture!r} (transformer or lstm)")
        if len(self.codebook_sizes) != self.levels:
            raise BadInputError(f"{self.levels} levels but {len(self.codebook_sizes)} codebook sizes")
        if self.context < 2 or self.context % 2:
            raise BadInputError(f"prior context {self.context} must be an even number of positions, at least 2")
        if self.d_model % self.heads:
            raise BadInputError(f"d_model {self.d_model} is not divisible by {self.heads} heads")
        if not 0 <= self.dropout < 1 or not 0 <= self.corrupt < 1:
            raise BadInputError("dropout and corruption must be in [0, 1)")
        if self.blend not in BLENDS:
            raise BadInputError(f"unknown prior blend {self.blend!r} (none, linear or product)")
        if self.blend != "none":
            if self.bigram_base:
                raise BadInputError("a prior blends with a bigram or is built on one, not both")
            if len(self.blend_weights) != self.levels or not all(0 <= w <= 4 for w in self.blend_weights):
                raise BadInputError(f"the blend needs one weight in [0, 4] per level ({self.levels}), "
                                    f"got {self.blend_weights}")
            if self.blend == "linear" and not all(w <= 1 for w in self.blend_weights):
                raise BadInputError(f"a linear blend's weights are shares in [0, 1], got {self.blend_weights}")
        if self.cross_weights:
            if self.blend != "linear" or len(self.cross_weights) != self.levels:
                raise BadInputError(f"the cross-level table joins a linear blend with one share per level ({self.levels}), "
                                    f"got {self.blend} and {self.cross_weights}")
            if not all(0 <= c <= 1 and w + c <= 1 + 1e-6 for w, c in zip(self.blend_weights, self.cross_weights, strict=True)):
                raise BadInputError(f"the network's and the cross-level table's shares {self.blend_weights} and "
                                    f"{self.cross_weights} must be in [0, 1] and sum to at most 1 per level")
        if self.ngram_weights:
            if self.blend != "linear" or len(self.ngram_weights) != self.levels or self.ngram_order not in (2, 3):
                raise BadInputError(f"the n-gram joins a linear blend with one share per level ({self.levels}) and "
                                    f"order 2 or 3, got {self.blend}, {self.ngram_weights}, order {self.ngram_order}")
            cross = self.cross_weights or [0.0] * self.levels
            if not all(0 <= n <= 1 and w + c + n <= 1 + 1e-6
                       for w, c, n in zip(self.blend_weights, cross, self.ngram_weights, strict=True)):
                raise BadInputError(f"the blend's shares (network {self.blend_weights}, cross-level {self.cross_weights}, "
                                    f"n-gram {self.ngram_weights}) must be in [0, 1] and sum to at most 1 per level")
        if (problem := validate_memory(self)) is not None:
            raise BadInputError(problem)


def adaptive_prior_config(n_files: int, levels: int, codebook_sizes: list[int], **overrides: Any) -> PriorConfig:
    """Tiny by default, sized from the dataset: 2 layers / 64 wide under 200 files, then larger.

    64 wide beat 128 on pads-drums-20 by k-fold (held-out perplexity 40.1 against 41.7, bench/RESULTS.md), and
    beat 3 x 192 on pads-drums-50 in a 3-CPU-minute budget (27.7 against 30.0; 1,100 steps per fold against 200)."""
    if n_files < 200:
        d, n_layers = 64, 2
    elif n_files < 500:
        d, n_layers = 192, 3
    else:
        d, n_layers = 256, 4
    cfg = PriorConfig(levels=levels, codebook_sizes=list(codebook_sizes), d_model=d, layers=n_layers)
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    cfg.validate()
    return cfg


# ------------------------------------------------------------------ layout
def flatten_codes(codes: np.ndarray, cfg: PriorConfig) -> np.ndarray:
    """(levels, positions) local codes -> (positions * levels,) global token ids, time-major."""
    off = np.asarray(cfg.offsets, dtype=np.int64)[:, None]
    return (np.asarray(codes, dtype=np.int64) + off).T.reshape(-1)


def unflatten_tokens(tokens: np.ndarray, cfg: PriorConfig) -> np.ndarray:
    """(positions * levels,) global ids -> (levels, positions) local codes."""
    off = np.asarray(cfg.offsets, dtype=np.int64)[:, None]
    return np.asarray(tokens, dtype=np.int64).reshape(-1, cfg.levels).T - off


@dataclass
class SlotInputs:
    """What the model reads at each slot; all (B, T) long."""

    tok: torch.Tensor  # previous token (global id) or a start token
    same: torch.Tensor  # previous code of this slot's level (global id) or NONE
    level: torch.Tensor  # this slot's level
    time: torch.Tensor  # this slot's time position inside the window
    same2: torch.Tensor | None = None  # the code before `same` on this level, or NONE; only the n-gram part reads it

    def fields(self) -> list[torch.Tensor]:
        """The inputs as a list (same2 last, when given), to pad and concatenate windows."""
        return [self.tok, self.same, self.level, self.time] + ([] if self.same2 is None else [self.same2])


def slot_inputs(cfg: PriorConfig, seq: torch.Tensor, w0: int, i0: int, i1: int) -> SlotInputs:
    """Inputs for slots [i0, i1) of sequences `seq` (B, N) read in a window that starts at time `w0`.

    The window's first slot reads a start token: "sound starts here" when w0 == 0, else "mid-sound".
    The same-level previous code is the true one even across the window's start.
    """
    q, v = cfg.levels, cfg.vocab
    bos_sound, bos_mid, none = v, v + 1, v
    b = seq.shape[0]
    idx = torch.arange(i0, i1, device=seq.device)  # (T,)
    tok = seq[:, (idx - 1).clamp(min=0)]  # (B, T)
    tok = torch.where((idx == w0 * q)[None], torch.full_like(tok, bos_sound if w0 == 0 else bos_mid), tok)
    same = seq[:, (idx - q).clamp(min=0)]  # (B, T)
    same = torch.where((idx < q)[None], torch.full_like(same, none), same)
    same2 = seq[:, (idx - 2 * q).clamp(min=0)]  # (B, T)
    same2 = torch.where((idx < 2 * q)[None], torch.full_like(same2, none), same2)
    level = (idx % q)[None].expand(b, -1)  # (B, T)
    time = (idx // q - w0)[None].expand(b, -1)  # (B, T)
    return SlotInputs(tok, same, level, time, same2)


# ------------------------------------------------------------------ parts
class Embedder(nn.Module):
    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab + 2, cfg.d_model)  # codes of all levels, then 2 start tokens
        self.same = nn.Embedding(cfg.vocab + 1, cfg.d_model)  # codes of all levels, then NONE
        self.level = nn.Embedding(cfg.levels, cfg.d_model)
        self.time = nn.Embedding(cfg.context, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        for emb in (self.tok, self.same, self.level, self.time):
            nn.init.normal_(emb.weight, std=0.02)

    def forward(self, x: SlotInputs) -> torch.Tensor:
        h = self.tok(x.tok) + self.same(x.same) + self.level(x.level) + self.time(x.time)  # (B, T, C)
        return self.drop(h) if self.training else h  # (module calls cost more than the maths when sampling)


@dataclass
class KVCache:
    """Per layer keys and values, preallocated for one window: (B, heads, window tokens, head size)."""

    k: list[torch.Tensor]
    v: list[torch.Tensor]
    length: int = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.p = cfg.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, t, c = x.shape
        hs = c // self.heads
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(b, t, self.heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(b, t, self.heads, hs).transpose(1, 2)  # (B, nh, T, hs)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        else:
            n = cache.length
            cache.k[layer][:, :, n : n + t] = k
            cache.v[layer][:, :, n : n + t] = v
            kk, vv = cache.k[layer][:, :, : n + t], cache.v[layer][:, :, : n + t]  # (B, nh, n + T, hs)
            if t == 1:
                y = F.scaled_dot_product_attention(q, kk, vv)
            else:
                mask = torch.ones(t, n + t, dtype=torch.bool, device=x.device).tril(diagonal=n)  # (T, n + T)
                y = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        y = self.proj(y.transpose(1, 2).reshape(b, t, c))  # (B, T, C)
        return self.drop(y) if self.training else y


class Block(nn.Module):
    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc1 = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc2 = nn.Linear(4 * cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)  # (B, T, C)
        y = self.fc2(F.gelu(self.fc1(self.ln2(x))))  # (B, T, C)
        return x + (self.drop(y) if self.training else y)


MAX_BASE_VOCAB = 2048  # the bigram table is (vocab + levels, vocab) floats: 16 MB at this size


def blend_logp(net_logp: torch.Tensor, big_logp: torch.Tensor, kind: str, weight: torch.Tensor) -> torch.Tensor:
    """The network's and the bigram's log-probabilities (..., V), each normalized over the slot's level
    (-inf elsewhere), joined with `weight` (..., 1):

    - "linear": p = w * p_net + (1 - w) * p_bigram, w in [0, 1] (w = 1: the network alone);
    - "product": p proportional to p_net * p_bigram ** w, w >= 0 (w = 0: the network alone).

    Returns log-probabilities (..., V), normalized over the level. (A linear blend with the cross-level
    table adds a third part, c * p_cross: `PriorModel.forward`.)
    """
    if kind == "linear":
        return torch.logaddexp(net_logp + torch.log(weight), big_logp + torch.log1p(-weight))
    if kind == "product":
        finite = torch.where(torch.isfinite(big_logp), big_logp, torch.zeros_like(big_logp))  # 0 * -inf is nan
        return F.log_softmax(net_logp + weight * finite, dim=-1)
    return net_logp


class PriorModel(nn.Module):
    """Both architectures share the embedder and the head.

    `forward(inputs, cache)` returns logits (B, T, vocab) with every other level's codes masked to
    -inf, so the softmax at a slot ranges over its own level's codes only. With a cache (from
    `new_cache`) the call continues the window: the key/value cache for the Transformer, the
    recurrent state for the LSTM.

    With `bigram_base` the logits are the log-probabilities of an add-alpha same-level bigram (a
    buffer filled by `set_bigram` from the training codes) plus the network's output, whose head
    starts at zero: before training the prior *is* the bigram, and early stopping on held-out
    sounds can only keep what generalizes beyond it. Without it (the default: measured better from
    20 and 50 files, bench/RESULTS.md) the head is tied to the token embedding. A model with the base
    and an untrained head is exactly the bigram: the trainer stores that when the network fails to
    beat the bigram on held-out sounds.
    """

    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed = Embedder(cfg)
        if cfg.architecture == "transformer":
            self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.layers)])
            for name, p in self.named_parameters():
                if name.endswith("proj.weight") or name.endswith("fc2.weight"):  # GPT-2's scaled residual init
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))
        else:
            self.lstm = nn.LSTM(cfg.d_model, cfg.d_model, num_layers=cfg.layers, batch_first=True,
                                dropout=cfg.dropout if cfg.layers > 1 else 0.0)
            self.drop = nn.Dropout(cfg.dropout)
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.use_base = cfg.bigram_base and cfg.vocab <= MAX_BASE_VOCAB
        self.use_blend = cfg.blend != "none" and not cfg.bigram_base and cfg.vocab <= MAX_BASE_VOCAB
        if self.use_base:
            self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
            nn.init.zeros_(self.head.weight)
        if self.use_base or self.use_blend:
            self.register_buffer("bigram", torch.zeros(cfg.vocab + cfg.levels, cfg.vocab))  # (V + Q, V) log p
        if self.use_blend:
            weights = torch.tensor(cfg.blend_weights, dtype=torch.float32)[:, None]  # (Q, 1); in the config
            self.register_buffer("blend_weight", weights, persistent=False)
        self.use_cross = self.use_blend and bool(cfg.cross_weights)  # priors stored before it have no "cross" tensor
        if self.use_cross:
            self.register_buffer("cross", torch.zeros(cfg.vocab + 2, cfg.vocab))  # (V + 2, V) log p, row = previous token
        self.use_ngram = self.use_blend and bool(cfg.ngram_weights) and ngram_fits(cfg)  # nor an "ngram.table"
        if self.use_ngram:
            self.ngram = NgramPart(cfg)
        if self.use_cross or self.use_ngram:
            zero = [0.0] * cfg.levels
            w = torch.tensor([cfg.blend_weights, cfg.cross_weights or zero, cfg.ngram_weights or zero],
                             dtype=torch.float64).T  # (Q, 3): network, cross, n-gram
            shares = torch.stack([w[:, 0], (1 - w.sum(dim=1)).clamp(min=0), w[:, 1], w[:, 2]], dim=1)  # (Q, 4): + bigram
            self.register_buffer("blend_log_shares", shares.log().float(), persistent=False)  # (Q, 4); log 0 = -inf
        mask = torch.full((cfg.levels, cfg.vocab), -math.inf)  # (Q, V)
        for q, (off, k) in enumerate(zip(cfg.offsets, cfg.codebook_sizes, strict=True)):
            mask[q, off : off + k] = 0.0
        self.register_buffer("level_mask", mask, persistent=False)

    def new_cache(self, batch: int) -> KVCache | list[torch.Tensor | None]:
        p = next(self.parameters())
        if self.cfg.architecture == "transformer":
            n = self.cfg.context * self.cfg.levels
            shape = (batch, self.cfg.heads, n, self.cfg.d_model // self.cfg.heads)
            return KVCache([p.new_zeros(shape) for _ in self.blocks], [p.new_zeros(shape) for _ in self.blocks])
        return [None]  # the LSTM's (h, c), filled on first use

    def forward(self, x: SlotInputs, cache: KVCache | list | None = None) -> torch.Tensor:
        h = self.embed(x)  # (B, T, C)
        if self.cfg.architecture == "transformer":
            for i, block in enumerate(self.blocks):
                h = block(h, cache, i)  # (B, T, C)
            if cache is not None:
                cache.length += h.shape[1]
        else:
            state = cache[0] if cache is not None else None
            h, state = self.lstm(h, state)  # (B, T, C)
            h = self.drop(h) if self.training else h
            if cache is not None:
                cache[0] = state
        if self.use_base:
            logits = self.head(self.ln_f(h)) + self.bigram[self.bigram_row(x)]  # (B, T, V)
        else:
            logits = self.ln_f(h) @ self.embed.tok.weight[: self.cfg.vocab].T  # (B, T, V)
        logits = logits + self.level_mask[x.level]  # (B, T, V)
        if self.use_blend:  # log-probabilities of the blend, themselves valid logits
            big = self.bigram[self.bigram_row(x)] + self.level_mask[x.level]  # (B, T, V)
            if self.use_cross or self.use_ngram:  # blend_logp's mix with more parts, the log shares computed once
                lw = self.blend_log_shares[x.level]  # (B, T, 4): network, bigram, cross-level, n-gram
                logits = torch.logaddexp(F.log_softmax(logits, dim=-1) + lw[..., 0:1], big + lw[..., 1:2])
                if self.use_cross:
                    cross = self.cross[x.tok] + self.level_mask[x.level]  # (B, T, V): level l - 1 at this time, or start
                    logits = torch.logaddexp(logits, cross + lw[..., 2:3])
                if self.use_ngram:
                    logits = torch.logaddexp(logits, self.ngram_logp(x) + lw[..., 3:4])
            else:
                logits = blend_logp(F.log_softmax(logits, dim=-1), big, self.cfg.blend, self.blend_weight[x.level])
        return logits

    def ngram_logp(self, x: SlotInputs) -> torch.Tensor:
        """The stored n-gram's log-probabilities (B, T, V) for each slot, normalized over its level."""
        if x.same2 is None:
            raise ValueError("the n-gram part reads the previous two same-level codes: SlotInputs.same2 is missing")
        return self.ngram(x.same, x.same2, x.level)  # (B, T, V)

    def bigram_row(self, x: SlotInputs) -> torch.Tensor:
        """The bigram table's row for each slot: its previous same-level code, or its level's start row. (B, T)"""
        return torch.where(x.same == self.cfg.vocab, self.cfg.vocab + x.level, x.same)

    @torch.no_grad()
    def set_bigram(self, starts: list[np.ndarray], transitions: list[np.ndarray]) -> None:
        """Fill the base (or the blend's bigram) from per-level log-probabilities: starts (K,), transitions
        (K, K) previous -> next."""
        if self.use_base or self.use_blend:
            self.bigram.copy_(bigram_table(self.cfg, starts, transitions))

    @torch.no_grad()
    def set_cross(self, table: torch.Tensor) -> None:
        """Fill the blend's cross-level table (V + 2, V) (`model/cross_level.cross_table`)."""
        if self.use_cross:
            self.cross.copy_(table)

    @torch.no_grad()
    def set_ngram(self, table: torch.Tensor) -> None:
        """Fill the blend's n-gram table (R, K) (`model/ngram.ngram_table`)."""
        if self.use_ngram:
            self.ngram.set(table)


def bigram_table(cfg: PriorConfig, starts: list[np.ndarray], transitions: list[np.ndarray]) -> torch.Tensor:
    """Per-level bigram log-probabilities laid out by slot input: (V + Q, V), row = previous same-level code
    (global id) or V + level for a sound's first code; entries outside a level's block are 0 (masked by callers)."""
    table = torch.zeros(cfg.vocab + cfg.levels, cfg.vocab)  # (V + Q, V)
    for q, (off, k) in enumerate(zip(cfg.offsets, cfg.codebook_sizes, strict=True)):
        table[cfg.vocab + q, off : off + k] = torch.as_tensor(starts[q], dtype=table.dtype)
        table[off : off + k, off : off + k] = torch.as_tensor(transitions[q], dtype=table.dtype)
    return table


def token_nll(model: PriorModel, x: SlotInputs, target: torch.Tensor) -> torch.Tensor:
    """Per-slot negative log-likelihood (B, T); target -1 (padding) gives 0."""
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.transpose(1, 2), target, reduction="none", ignore_index=-1)  # (B, T)


def token_loss(model: PriorModel, x: SlotInputs, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Per-slot training loss (B, T); target -1 (padding) gives 0. With `smoothing` the target is
    (1 - smoothing) on the true code plus smoothing spread evenly over the codes of its level (VampNet: 0.1)."""
    logits = model(x)  # (B, T, V)
    nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none", ignore_index=-1)  # (B, T)
    if smoothing <= 0:
        return nll
    logp = F.log_softmax(logits, dim=-1)  # (B, T, V); other levels' codes are -inf
    own = torch.isfinite(model.level_mask[x.level])  # (B, T, V)
    sizes = own.sum(dim=-1).clamp(min=1)  # (B, T)
    uniform = -torch.where(own, logp, torch.zeros_like(logp)).sum(dim=-1) / sizes  # (B, T)
    return (1 - smoothing) * nll + smoothing * uniform * (target >= 0)


def corrupt_inputs(cfg: PriorConfig, x: SlotInputs, rate: float, gen: torch.Generator | None = None) -> SlotInputs:
    """Replace `rate` of the code inputs by a random code of the same level (not the start tokens)."""
    if rate <= 0:
        return x
    sizes = torch.tensor(cfg.codebook_sizes, device=x.tok.device)
    offs = torch.tensor(cfg.offsets, device=x.tok.device)

    def swap(t: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
        is_code = t < cfg.vocab
        hit = (torch.rand(t.shape, generator=gen, device=t.device) < rate) & is_code
        rnd = (torch.rand(t.shape, generator=gen, device=t.device) * sizes[lv]).long() + offs[lv]  # (B, T)
        return torch.where(hit, rnd, t)

    prev_level = (x.level - 1) % cfg.levels  # the previous token's level
    return SlotInputs(swap(x.tok, prev_level), swap(x.same, x.level), x.level, x.time, x.same2)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ scoring with a sliding window
@torch.no_grad()
def windows_nll(model: PriorModel, seqs: list[torch.Tensor], windows: list[Window], batch: int = 64) -> torch.Tensor:
    """Summed NLL of the scored slots of each window per sequence (len(seqs),), with the prior's memory if any."""
    cfg = model.cfg
    total = torch.zeros(len(seqs), dtype=torch.float64)
    device = next(model.parameters()).device
    remember = any(level_settings(cfg))  # per sequence below, or None: most priors have no memory to count
    memories = [slot_memory(cfg, unflatten_tokens(s.cpu().numpy(), cfg)) if remember else None for s in seqs]
    for start in range(0, len(windows), batch):
        chunk = windows[start : start + batch]
        width = max(w.i1 - w.i0 for w in chunk)
        parts, targets = [], []
        for w in chunk:
            s = seqs[w.seq][None].to(device)  # (1, N)
            x = slot_inputs(cfg, s, w.w0, w.i0, w.i1)
            tgt = s[:, w.i0 : w.i1].clone()  # (1, T)
            keep = torch.zeros_like(tgt, dtype=torch.bool)
            keep[:, w.s0 - w.i0 : w.s1 - w.i0] = True
            tgt[~keep] = -1
            pad = width - (w.i1 - w.i0)
            parts.append([F.pad(t, (0, pad)) for t in x.fields()])
            targets.append(F.pad(tgt, (0, pad), value=-1))
        x = SlotInputs(*(torch.cat([p[j] for p in parts]) for j in range(len(parts[0]))))  # each (W, T)
        nll = token_nll(model, x, torch.cat(targets)).double().cpu()  # (W, T)
        for r, w in enumerate(chunk):
            memory = memories[w.seq]
            if memory is None:
                total[w.seq] += float(nll[r].sum())
            else:  # the sound's own memory, over the slots this window scores
                total[w.seq] -= float(adjust_slots(-nll[r, w.s0 - w.i0 : w.s1 - w.i0], memory, w.s0, w.s1).sum())
    return total


def sequences_nll(model: PriorModel, seqs: list[torch.Tensor]) -> tuple[float, int]:
    """(total NLL, token count) over whole sequences, scored exactly as generation reads them."""
    windows = [w for i, s in enumerate(seqs) for w in scoring_windows(model.cfg, len(s), i)]
    if not windows:
        return 0.0, 0
    return float(windows_nll(model, seqs, windows).sum()), int(sum(len(s) for s in seqs))
