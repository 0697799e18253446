"""Sample and score with the masked prior: MaskGIT-style decoding of any masked cells of a grid.

A grid longer than the model's window is read as overlapping tiles (`window` positions, sliding by half
a window); every cell takes its prediction from the tile in which it sits most centrally, so each cell
sees up to half a window on both sides. All tiles of all candidates go through the network in one
batch per step. Decoding (MaskGIT, arXiv:2202.04200): at each of at most `steps` steps every masked
cell is sampled (temperature, top-k, top-p), the sampled cells are ranked by their probability plus
Gumbel noise that fades over the steps, and the least sure are masked again so that the share still
masked follows a cosine schedule. Regions, periodic masks and fine-levels-only masks (VampNet's
`upper_codebook_mask`: keep level 1) are all just masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..config import from_dict
from ..errors import BadInputError, ModelFileError
from ..model.masked_prior import MaskedConfig, MaskedPrior, grid_tokens, mask_ids
from ..threads import torch_threads
from .sampling import SamplingSettings, check_candidates

if TYPE_CHECKING:
    from ..persistence.model_file import ModelFile

STEPS = 12  # decoding steps for any mask (fewer when fewer cells are masked)
NOISE = 4.5  # Gumbel noise on the confidence at the first step, fading to 0 (MaskGIT's choice temperature)
BORDER = 2  # kept positions on each side of the masked cells scored to rank candidates


@dataclass
class MaskedCandidate:
    codes: np.ndarray  # (levels, positions): the whole grid with this candidate in the masked cells
    join_nll: float  # mean NLL (nats) of the kept cells next to the masked ones, hidden, given the candidate


def tile_starts(window: int, positions: int) -> list[int]:
    """First positions of the tiles that cover [0, positions): every half window, the last flush with the end."""
    if positions <= window:
        return [0]
    hop = window // 2
    starts = list(range(0, positions - window + 1, hop))
    if starts[-1] + window < positions:
        starts.append(positions - window)
    return starts


def tile_owner(window: int, positions: int) -> tuple[list[int], np.ndarray]:
    """The tiles, and for each position the index of the tile in which it is most central: (positions,)."""
    starts = tile_starts(window, positions)
    width = min(window, positions)
    t = np.arange(positions)[:, None]  # (P, 1)
    s = np.asarray(starts)[None]  # (1, K)
    inside = (t >= s) & (t < s + width)  # (P, K)
    centre = np.abs(t - (s + (width - 1) / 2))  # (P, K)
    return starts, np.where(inside, centre, np.inf).argmin(axis=1)


@torch.no_grad()
def grid_logits(model: MaskedPrior, tokens: torch.Tensor) -> torch.Tensor:
    """tokens (B, P * Q) time-major -> logits (B, P * Q, V), each cell from its most central tile."""
    cfg = model.cfg
    q, b = cfg.levels, tokens.shape[0]
    positions = tokens.shape[1] // q
    starts, owner = tile_owner(cfg.window, positions)
    width = min(cfg.window, positions)
    tiles = torch.stack([tokens[:, s * q : (s + width) * q] for s in starts], dim=1)  # (B, K, W * Q)
    out = model(tiles.reshape(b * len(starts), width * q)).view(b, len(starts), width * q, -1)  # (B, K, W * Q, V)
    slot = torch.arange(positions * q)  # (N,)
    tile = torch.from_numpy(owner).repeat_interleave(q)  # (N,)
    local = slot - torch.as_tensor(starts)[tile] * q  # (N,)
    return out[:, tile, local]  # (B, N, V)


def _sample(logits: torch.Tensor, settings: SamplingSettings, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (M, V) -> sampled codes (M,) and their log-probability under the untempered model (M,)."""
    from .generate import sample_logits  # the causal prior's draw: the same temperature, top-k, top-p

    drawn = sample_logits(logits, settings, gen)  # (M,)
    logp = F.log_softmax(logits.float(), dim=-1).gather(1, drawn[:, None])[:, 0]  # (M,)
    return drawn, logp


@torch.no_grad()
def decode(model: MaskedPrior, tokens: torch.Tensor, settings: SamplingSettings, gen: torch.Generator,
           steps: int = STEPS, noise: float = NOISE) -> torch.Tensor:
    """Fill the MASK cells of tokens (B, N) in at most `steps` steps; returns (B, N) global codes."""
    vocab = model.cfg.vocab
    seq = tokens.clone()
    hidden = seq >= vocab  # (B, N)
    total = hidden.sum(dim=1)  # (B,)
    steps = max(1, min(steps, int(total.max())))
    rows = torch.arange(seq.shape[0])[:, None]  # (B, 1)
    for s in range(steps):
        still = seq >= vocab  # (B, N)
        if not still.any():
            break
        logits = grid_logits(model, seq)  # (B, N, V)
        drawn, logp = _sample(logits[still], settings, gen)  # (M,) each
        proposal = seq.clone()
        proposal[still] = drawn
        conf = torch.full(seq.shape, math.inf)  # (B, N): kept cells are never masked again
        u = torch.rand(drawn.shape, generator=gen).clamp(1e-9, 1 - 1e-9)
        conf[still] = logp + noise * (1 - (s + 1) / steps) * -torch.log(-torch.log(u))
        # cosine schedule: after step s, cos(pi/2 (s+1)/steps) of the first masked count stays masked
        remask = torch.floor(total.double() * math.cos(0.5 * math.pi * (s + 1) / steps)).long()  # (B,)
        remask = torch.minimum(remask, still.sum(dim=1) - 1).clamp(min=0)  # at least one cell per step
        order = conf.argsort(dim=1)  # (B, N): least sure first
        rank = torch.empty_like(order)
        rank[rows, order] = torch.arange(seq.shape[1])[None].expand_as(order)
        again = rank < remask[:, None]  # (B, N)
        seq = torch.where(again, seq, proposal)
    return seq


@torch.no_grad()
def masked_nll(model: MaskedPrior, codes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass: codes (B, Q, P), mask (B, Q, P) bool -> NLL (nats) and arg-max hit of every cell, (B, Q, P) each,
    the masked cells predicted from the kept ones (values at kept cells are meaningless)."""
    cfg = model.cfg
    b, q, p = codes.shape
    target = grid_tokens(codes, cfg)  # (B, N)
    hidden = mask.transpose(1, 2).reshape(b, -1)  # (B, N)
    logits = grid_logits(model, torch.where(hidden, mask_ids(cfg, p)[None], target))  # (B, N, V)
    logp = F.log_softmax(logits.float(), dim=-1)  # (B, N, V)
    nll = -logp.gather(2, target[..., None])[..., 0]  # (B, N)
    hit = (logits.argmax(dim=-1) == target).float()  # (B, N)
    return nll.view(b, p, q).transpose(1, 2), hit.view(b, p, q).transpose(1, 2)


class MaskedSampler:
    """A loaded masked prior: candidates for any masked cells of a grid (levels, positions) of local codes."""

    def __init__(self, model: MaskedPrior, steps: int = STEPS) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.steps = steps

    @classmethod
    def from_loaded(cls, mf: ModelFile, path: str | Path | None = None) -> MaskedSampler | None:
        """The model file's masked prior (`masked_prior` document, `masked.*` tensors); None when it has none.
        A damaged one (missing or misshapen tensors, another VQ-VAE's) is a one-line `ModelFileError`."""
        doc = mf.document.masked_prior
        if doc is None:
            return None
        if doc.vqvae_fingerprint != mf.fingerprint:
            raise ModelFileError(f"its masked prior was trained on another VQ-VAE (fingerprint {doc.vqvae_fingerprint}, "
                                 f"this model is {mf.fingerprint}): run `distill-tui train-prior MODEL --shape masked` "
                                 "again", path)
        try:
            cfg = from_dict(MaskedConfig, doc.config)
            if list(cfg.codebook_sizes) != mf.document.codebook_sizes:
                raise ValueError(f"codebook sizes {cfg.codebook_sizes} differ from the VQ-VAE's")
            model = MaskedPrior(cfg)
            model.load_state_dict(mf.group("masked"), strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError, BadInputError) as exc:
            raise ModelFileError("the masked prior does not fit its stored config "
                                 f"({str(exc).splitlines()[0][:120]})", path) from exc
        return cls(model)

    def candidates(self, codes: np.ndarray, free: np.ndarray, settings: SamplingSettings, n: int,
                   gen: torch.Generator) -> list[MaskedCandidate]:
        """n fillings of the `free` cells (levels, positions bool) of `codes`, the best-joined first: the kept
        cells within `BORDER` positions of a free one are hidden and scored given each filling."""
        check_candidates(n)
        cfg = self.cfg
        with torch_threads(1):  # batch-1 products: a second thread only waits on a shared CPU
            base = grid_tokens(torch.from_numpy(codes)[None], cfg)  # (1, N)
            hidden = torch.from_numpy(np.ascontiguousarray(free.T).reshape(-1))  # (N,) time-major
            tokens = torch.where(hidden[None], mask_ids(cfg, codes.shape[1])[None], base).repeat(n, 1)  # (C, N)
            filled = decode(self.model, tokens, settings, gen, self.steps)  # (C, N)
            grids = (filled.view(n, codes.shape[1], cfg.levels).transpose(1, 2)
                     - torch.tensor(cfg.offsets)[None, :, None]).numpy()  # (C, Q, P)
            join = self._join(grids, free)
        out = []
        for c in sorted(range(n), key=lambda c: join[c]):
            assert np.array_equal(grids[c][~free], codes[~free]), "masked sampling touched codes outside its mask"
            out.append(MaskedCandidate(grids[c].astype(np.int64), join[c]))
        return out

    def _join(self, grids: np.ndarray, free: np.ndarray) -> list[float]:
        """Mean NLL of the kept cells within BORDER positions of a free cell, hidden together, per candidate."""
        cols = free.any(axis=0).astype(np.int64)  # (P,)
        near = np.convolve(cols, np.ones(2 * BORDER + 1, dtype=np.int64), mode="same") > 0  # (P,): within BORDER
        border = near[None] & ~free  # (Q, P)
        if not border.any():
            return [0.0] * len(grids)
        mask = torch.from_numpy(np.broadcast_to(border, grids.shape).copy())  # (C, Q, P)
        nll, _ = masked_nll(self.model, torch.from_numpy(grids), mask)  # (C, Q, P)
        return (nll[mask].view(len(grids), -1).mean(dim=1)).tolist()
