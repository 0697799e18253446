"""The masked prior: a small bidirectional Transformer over a window of the code grid (MaskGIT / VampNet).

Every cell (level q, time t) of a window of `window` positions is one token, read time-major
(slot t * levels + q, as the causal prior reads them). A cell's input is its code, or its level's
MASK token, plus a level and a time embedding; the model predicts every masked cell's code from the
kept cells on both sides. Training masks a share of each example drawn from a cosine schedule, in
spans along time (MAGNeT: a lone masked code is given away by its neighbours), and scores only the
masked cells. `inference/masked_sampling.py` decodes with it; `train/masked_loop.py` trains it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from .prior import CodeVocab


@dataclass
class MaskedConfig(CodeVocab):
    """The masked prior's shape; it travels in the model file's "masked_prior" document."""

    levels: int = 3
    codebook_sizes: list[int] = field(default_factory=lambda: [64, 64, 64])
    window: int = 32  # time positions read at once (about 1.5 s at 44.1 kHz, stride 4); tokens: window * levels
    d_model: int = 64  # 64 wide, 2 layers held out as well as 96 / 3 after 300 steps, at half the CPU (bench/RESULTS.md, sixth session)
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    span: int = 3  # mean length (positions) of a masked span along time while training (MAGNeT)
    neighbours: bool = True  # each cell also reads its level's codes just before and after it (the bigram's evidence)

    @property
    def hop(self) -> int:
        """How far the tiles of a long grid slide: half a window, so every cell is read with context on both sides."""
        return max(1, self.window // 2)

    def validate(self) -> None:
        if len(self.codebook_sizes) != self.levels or self.levels < 1:
            raise BadInputError(f"{self.levels} levels but {len(self.codebook_sizes)} codebook sizes")
        if self.window < 2 or self.window % 2:
            raise BadInputError(f"masked prior window {self.window} must be an even number of positions, at least 2")
        if self.d_model < 1 or self.layers < 1 or self.heads < 1 or self.d_model % self.heads:
            raise BadInputError(f"d_model {self.d_model} must be positive and divisible by {self.heads} heads")
        if not 0 <= self.dropout < 1 or self.span < 1:
            raise BadInputError("dropout must be in [0, 1) and span at least 1")


# ------------------------------------------------------------------ layout
def grid_tokens(codes: torch.Tensor, cfg: MaskedConfig) -> torch.Tensor:
    """codes (B, Q, T) local -> (B, T * Q) global token ids, time-major."""
    off = torch.tensor(cfg.offsets, dtype=torch.long, device=codes.device)[None, :, None]  # (1, Q, 1)
    return (codes.long() + off).transpose(1, 2).reshape(codes.shape[0], -1)  # (B, T * Q)


def mask_ids(cfg: MaskedConfig, positions: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The MASK token of each slot's level: (positions * levels,)."""
    return cfg.vocab + torch.arange(cfg.levels, device=device).repeat(positions)


# ------------------------------------------------------------------ masks for training
def cosine_ratio(u: torch.Tensor) -> torch.Tensor:
    """MaskGIT's schedule: u ~ U(0, 1) -> share of cells masked, cos(pi u / 2); dense near 1, none near 0."""
    return torch.cos(0.5 * math.pi * u)


def span_mask(ratios: torch.Tensor, levels: int, positions: int, span: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """Per example and level, k spans of `span` positions at independent random starts (spans may run off either
    end, so every position is equally likely hidden), with MAGNeT's count k = log(1 - r) / log(1 - span / S)
    (S = positions + span - 1 possible starts): about `ratios` (B,) of the cells, (B, Q, T) bool, at least one."""
    b = ratios.shape[0]
    span = min(span, positions)
    n_starts = positions + span - 1
    r = ratios.clamp(1e-3, 0.999)[:, None, None]  # (B, 1, 1)
    k = (torch.log1p(-r) / math.log1p(-span / n_starts)).round().clamp(min=1) if span < n_starts else torch.ones_like(r)
    most = int(k.max())
    first = torch.randint(0, n_starts, (b, levels, most), generator=gen) - (span - 1)  # (B, Q, K) span starts
    used = torch.arange(most)[None, None] < k  # (B, Q, K): the first k starts of each example count
    hits = torch.zeros(b, levels, positions, dtype=torch.long)
    for d in range(span):
        pos = first + d  # (B, Q, K)
        ok = used & (pos >= 0) & (pos < positions)
        hits.scatter_add_(-1, pos.clamp(0, positions - 1), ok.long())
    mask = hits > 0  # (B, Q, T)
    empty = ~mask.flatten(1).any(dim=1)  # (B,)
    if empty.any():
        mask[empty, 0, 0] = True
    return mask


def training_mask(batch: int, cfg: MaskedConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """What one batch hides: (B, Q, T) bool. A ratio per example from the cosine schedule; then, per example,
    spans on every level (60 %), spans on levels 2.. only with level 1 kept (20 %: variations that keep level 1),
    or one contiguous stretch of every level (20 %: a region between kept context)."""
    q, t = cfg.levels, cfg.window
    ratios = cosine_ratio(torch.rand(batch, generator=gen))  # (B,)
    mask = span_mask(ratios, q, t, cfg.span, gen)  # (B, Q, T)
    kind = torch.rand(batch, generator=gen)  # (B,)
    if q > 1:
        fine = kind < 0.2
        mask[fine, 0] = False
        mask[fine & ~mask.flatten(1).any(dim=1), 1, 0] = True
    width = (ratios * t).round().clamp(1, t).long()  # (B,)
    start = (torch.rand(batch, generator=gen) * (t - width + 1)).long()  # (B,)
    cols = torch.arange(t)[None]  # (1, T)
    region = (cols >= start[:, None]) & (cols < (start + width)[:, None])  # (B, T)
    stretch = kind >= 0.8
    mask[stretch] = region[stretch][:, None].expand(-1, q, -1)
    return mask


# ------------------------------------------------------------------ the network
class Block(nn.Module):
    """Pre-norm Transformer block with full (bidirectional) attention."""

    def __init__(self, cfg: MaskedConfig) -> None:
        super().__init__()
        self.heads, self.p = cfg.heads, cfg.dropout
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc1 = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc2 = nn.Linear(4 * cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C); keep (B, 1, 1, T) bool: the keys that may be read (None: all; padding is not)."""
        b, t, c = x.shape
        hs = c // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, hs).transpose(1, 2) for z in (q, k, v))  # each (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep,
                                           dropout_p=self.p if self.training else 0.0)  # (B, nh, T, hs)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))  # (B, T, C)
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))  # (B, T, C)


class MaskedPrior(nn.Module):
    """`forward(tokens)`: tokens (B, T * Q) of global codes, per-level MASK ids or PAD (`pad_id`: training batches
    of short sounds), time-major, T <= window -> logits (B, T * Q, vocab), every other level's codes at -inf.
    The head is tied to the code embedding."""

    def __init__(self, cfg: MaskedConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.pad_id = cfg.vocab + cfg.levels
        self.tok = nn.Embedding(cfg.vocab + cfg.levels + 1, cfg.d_model)  # codes of every level, a MASK per level, PAD
        self.level = nn.Embedding(cfg.levels, cfg.d_model)
        self.time = nn.Embedding(cfg.window, cfg.d_model)
        embeddings = [self.tok, self.level, self.time]
        if cfg.neighbours:  # the same ids as `tok`, then EDGE: no position there
            self.before = nn.Embedding(cfg.vocab + cfg.levels + 2, cfg.d_model)
            self.after = nn.Embedding(cfg.vocab + cfg.levels + 2, cfg.d_model)
            embeddings += [self.before, self.after]
        for emb in embeddings:
            nn.init.normal_(emb.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.layers)])
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("fc2.weight"):  # GPT-2's scaled residual init
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        mask = torch.full((cfg.levels, cfg.vocab), -math.inf)  # (Q, V)
        for q, (off, k) in enumerate(zip(cfg.offsets, cfg.codebook_sizes, strict=True)):
            mask[q, off : off + k] = 0.0
        self.register_buffer("level_mask", mask, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        n = tokens.shape[1]
        if n % cfg.levels or n // cfg.levels > cfg.window:
            raise ValueError(f"{n} tokens are not whole columns of at most {cfg.window} positions")
        idx = torch.arange(n, device=tokens.device)  # (N,)
        level, time = idx % cfg.levels, idx // cfg.levels  # (N,) each
        h = self.tok(tokens) + self.level(level)[None] + self.time(time)[None]  # (B, N, C)
        if cfg.neighbours:
            q, edge = cfg.levels, self.pad_id + 1
            seen = tokens.masked_fill(tokens == self.pad_id, edge)  # (B, N): padding reads as no position at all
            h = h + self.before(F.pad(seen[:, :-q], (q, 0), value=edge))  # (B, N, C): the cell a position earlier
            h = h + self.after(F.pad(seen[:, q:], (0, q), value=edge))  # (B, N, C): the cell a position later
        pad = tokens == self.pad_id  # (B, N)
        keep = ~pad[:, None, None, :] if bool(pad.any()) else None  # (B, 1, 1, N)
        for block in self.blocks:
            h = block(h, keep)  # (B, N, C)
        logits = self.ln_f(h) @ self.tok.weight[: cfg.vocab].T  # (B, N, V)
        return logits + self.level_mask[level][None]  # (B, N, V)


def masked_loss(model: MaskedPrior, codes: torch.Tensor, mask: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Mean loss over the masked cells of codes (B, Q, T) under mask (B, Q, T) bool; targets smoothed by
    `smoothing` spread over the cell's own level's codes (VampNet's 0.1). Kept cells cost nothing; cells
    whose code is -1 are padding (never read, never scored)."""
    cfg = model.cfg
    pad = (codes < 0).transpose(1, 2).reshape(codes.shape[0], -1)  # (B, N)
    target = grid_tokens(codes.clamp(min=0), cfg)  # (B, N)
    hidden = mask.transpose(1, 2).reshape(mask.shape[0], -1) & ~pad  # (B, N), time-major like the tokens
    inputs = torch.where(hidden, mask_ids(cfg, codes.shape[2], codes.device)[None], target)  # (B, N)
    inputs = inputs.masked_fill(pad, model.pad_id)
    logits = model(inputs)[hidden]  # (M, V) the masked cells only
    tgt = target[hidden]  # (M,)
    logp = F.log_softmax(logits, dim=-1)  # (M, V); other levels' codes are -inf
    nll = -logp.gather(1, tgt[:, None])[:, 0]  # (M,)
    if smoothing <= 0:
        return nll.mean()
    own = torch.isfinite(logits)  # (M, V)
    uniform = -torch.where(own, logp, torch.zeros_like(logp)).sum(dim=-1) / own.sum(dim=-1)  # (M,)
    return ((1 - smoothing) * nll + smoothing * uniform).mean()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
