"""The masked prior: masks, the bidirectional network, MaskGIT decoding over tiles, and what it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill_tui.errors import BadInputError
from distill_tui.inference.generate import Prior
from distill_tui.inference.masked_sampling import (
    MaskedSampler,
    decode,
    grid_logits,
    masked_nll,
    tile_owner,
    tile_starts,
)
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.model.masked_prior import (
    MaskedConfig,
    MaskedPrior,
    grid_tokens,
    mask_ids,
    masked_loss,
    span_mask,
    training_mask,
)
from distill_tui.train.masked_loop import GridWindows, batch_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(sizes=(8, 8), window: int = 8, seed: int = 0, **kw) -> MaskedPrior:
    torch.manual_seed(seed)
    cfg = MaskedConfig(levels=len(sizes), codebook_sizes=list(sizes), window=window, d_model=32, layers=2, heads=2,
                       dropout=0.0, **kw)
    return MaskedPrior(cfg).eval()


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.6, 0.9])
def test_span_masks_cover_about_the_asked_share_in_runs(ratio):
    gen = torch.Generator().manual_seed(0)
    mask = span_mask(torch.full((400,), ratio), 3, 64, 3, gen)  # (B, Q, T)
    assert mask.shape == (400, 3, 64)
    assert abs(mask.float().mean().item() - ratio) < 0.06
    runs = (mask[..., 1:] & ~mask[..., :-1]).sum() + mask[..., 0].sum()  # masked runs start here
    assert mask.sum() / runs >= 3  # runs of a span or longer: no lone masked codes for neighbours to give away


def test_training_masks_follow_a_cosine_schedule_and_include_the_three_kinds():
    cfg = MaskedConfig(levels=3, codebook_sizes=[8, 8, 8], window=16)
    mask = training_mask(3000, cfg, torch.Generator().manual_seed(1))  # (B, Q, T)
    share = mask.float().mean(dim=(1, 2))
    assert (share > 0).all()
    assert abs(share.mean().item() - 2 / np.pi) < 0.05  # E[cos(pi u / 2)] for u ~ U(0, 1)
    fine_only = (~mask[:, 0].any(dim=1)) & mask[:, 1:].any(dim=(1, 2))
    stretch = (mask == mask[:, :1]).all(dim=(1, 2)) & (share < 1)
    assert 0.1 < fine_only.float().mean() < 0.4 and 0.1 < stretch.float().mean() < 0.4


def test_training_windows_pad_short_sounds_and_never_hide_only_padding():
    grids = [np.full((2, 3), 5), np.arange(40).reshape(2, 20) % 8]
    w = GridWindows(grids, 8, seed=0)
    codes = w.batch(64)  # (B, Q, W)
    assert codes.shape == (64, 2, 8) and (codes[:, :, 3:] == -1).any()
    mask = batch_mask(codes, MaskedConfig(levels=2, codebook_sizes=[8, 8], window=8), torch.Generator().manual_seed(0))
    assert not (mask & (codes < 0)).any()
    assert mask.flatten(1).any(dim=1).all()


# ------------------------------------------------------------------ the network
def test_every_cell_reads_both_sides_and_padding_is_never_read():
    model = tiny()
    codes = torch.randint(0, 8, (1, 2, 8))
    base = grid_tokens(codes, model.cfg)  # (1, 16)
    later = base.clone()
    later[0, -1] = (later[0, -1] + 1) % 8 + 8  # another level-2 code at the last position
    a, b = model(base), model(later)
    assert not torch.allclose(a[0, 0], b[0, 0])  # the first cell sees the last one: bidirectional
    padded = base.clone()
    padded[0, 12:] = model.pad_id
    other = padded.clone()
    other[0, 12:] = model.pad_id  # padding stays padding, whatever was there
    c = model(padded)
    shorter = model(base[:, :12])
    assert torch.allclose(c[0, :12], shorter[0], atol=1e-5)  # padded cells are not read
    assert torch.isinf(a[0, 0, 8:]).all() and torch.isinf(a[0, 1, :8]).all()  # each cell ranges over its level


def test_loss_counts_only_the_hidden_cells():
    model = tiny()
    codes = torch.randint(0, 8, (3, 2, 8))
    mask = span_mask(torch.tensor([0.3, 0.6, 0.9]), 2, 8, 2, torch.Generator().manual_seed(0))
    nll, _ = masked_nll(model, codes, mask)
    assert torch.allclose(masked_loss(model, codes, mask, smoothing=0.0), nll[mask].mean(), atol=1e-5)
    assert masked_loss(model, codes, mask, smoothing=0.1) > masked_loss(model, codes, mask, smoothing=0.0) - 1e-6


# ------------------------------------------------------------------ tiles and decoding
@pytest.mark.parametrize("positions", [1, 5, 8, 9, 17, 30, 87])
def test_tiles_cover_the_grid_and_each_cell_is_read_from_its_most_central_tile(positions):
    window = 8
    starts, owner = tile_owner(window, positions)
    assert starts == tile_starts(window, positions) and starts[0] == 0
    for t in range(positions):
        s = starts[owner[t]]
        assert s <= t < s + min(window, positions)
        if positions > window and window // 4 <= t < positions - window // 4:
            assert t - s >= window // 4 - 1 and s + window - 1 - t >= window // 4 - 1  # context on both sides


def test_grid_logits_of_a_short_grid_are_the_networks_own():
    model = tiny()
    tokens = grid_tokens(torch.randint(0, 8, (2, 2, 6)), model.cfg)
    assert torch.allclose(grid_logits(model, tokens), model(tokens))


def test_decoding_takes_at_most_twelve_passes_and_fills_only_the_hidden_cells():
    model = tiny()
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    codes = torch.randint(0, 8, (1, 2, 40))
    tokens = grid_tokens(codes, model.cfg)
    hidden = torch.rand(tokens.shape, generator=torch.Generator().manual_seed(0)) < 0.7
    masked = torch.where(hidden, mask_ids(model.cfg, 40)[None], tokens)
    out = decode(model, masked, SamplingSettings(seed=0), torch.Generator().manual_seed(0))
    assert len(calls) <= 12
    assert (out < model.cfg.vocab).all() and torch.equal(out[~hidden], tokens[~hidden])
    level = torch.arange(out.shape[1]) % 2
    assert ((out >= 8) == (level == 1)[None]).all()  # each code from its own level


def test_candidates_keep_every_cell_outside_the_mask_and_repeat_with_a_seed():
    sampler = MaskedSampler(tiny(sizes=(8, 4, 8)))
    codes = np.random.default_rng(0).integers(0, 4, (3, 30))
    free = np.zeros(codes.shape, dtype=bool)
    free[1:, 5:20] = True  # fine levels only: VampNet's upper_codebook_mask
    a = sampler.candidates(codes, free, SamplingSettings(seed=3), 3, torch.Generator().manual_seed(3))
    b = sampler.candidates(codes, free, SamplingSettings(seed=3), 3, torch.Generator().manual_seed(3))
    assert [c.join_nll for c in a] == sorted(c.join_nll for c in a)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.codes, y.codes) and np.array_equal(x.codes[~free], codes[~free])
        assert x.codes[1].max() < 4
    with pytest.raises(BadInputError):
        sampler.candidates(codes, free, SamplingSettings(), 0, torch.Generator())


# ------------------------------------------------------------------ what it learns: context on both sides
def constant_grids(n: int, positions: int, seed: int) -> list[np.ndarray]:
    """Each grid holds one code per level for its whole length, drawn at random: only its kept cells tell which."""
    rng = np.random.default_rng(seed)
    return [np.repeat(rng.integers(0, 8, (2, 1)), positions, axis=1) for _ in range(n)]


def test_a_trained_masked_prior_fills_a_region_from_what_follows_it():
    model = tiny(window=8, span=2)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    w, gen = GridWindows(constant_grids(64, 12, 0), 8, 0), torch.Generator().manual_seed(0)
    for _ in range(250):
        codes = w.batch(32)
        loss = masked_loss(model, codes, batch_mask(codes, model.cfg, gen), 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    prior_like = MaskedSampler(model)
    hits = 0
    for i, g in enumerate(constant_grids(10, 20, 99)):
        free = np.zeros(g.shape, dtype=bool)
        free[:, :6] = True  # the first 6 of 20 positions: only what follows says which codes
        out = prior_like.candidates(g, free, SamplingSettings(seed=i, temperature=0.5), 1, torch.Generator().manual_seed(i))
        hits += int((out[0].codes == g).mean() > 0.9)
    assert hits >= 8  # a left-to-right prior sees nothing before the region: it would guess 1 in 8


def test_a_prior_with_a_masked_one_fills_regions_with_it():
    from tests.test_generate import random_prior

    prior: Prior = random_prior(sizes=(8, 8, 8))
    grid = np.random.default_rng(0).integers(0, 8, (3, 24))
    used = []
    sampler = MaskedSampler(tiny(sizes=(8, 8, 8)))
    real = sampler.candidates
    sampler.candidates = lambda *a, **k: used.append(1) or real(*a, **k)
    prior.masked = sampler
    out = prior.regenerate_region(grid, 4, 12, SamplingSettings(seed=1), levels=[1, 2], candidates=2)
    assert used and np.array_equal(out[:, :4], grid[:, :4]) and np.array_equal(out[:, 12:], grid[:, 12:])
    assert np.array_equal(out[0], grid[0])
    prior.masked = None
    prior.regenerate_region(grid, 4, 12, SamplingSettings(seed=1), candidates=2)
    assert len(used) == 1  # without it, the causal prior fills the region
