"""The masked prior against the causal prior and the bigram on the same held-out sounds (issue 14).

    PYTHONPATH=$PWD nice -n 10 python bench/bench_masked.py /tmp/fb5.distill /tmp/pd20 --out /tmp/masked/fold0

One fold by file (`make_folds(n, seed, 5)[0]`): both networks and the bigram are fitted on the other
files and their augmented copies (the same copies `train-prior` makes), then judged on the held-out files:

- infill: on each held-out grid, span masks (3 positions, per level, as in training) hide a share r of
  the cells (r = 0.3, 0.6, 0.9; 4 masks per grid and r). On exactly the hidden cells: the masked prior's
  NLL and arg-max accuracy given the kept cells on both sides (one pass, all hidden cells at once); the
  causal prior's given the true past (every earlier cell, hidden or not: it reads as generation reads);
  the same-level bigram's given the true previous code of the level.
- plausibility (analysis/generation.py) of regenerated regions: the middle half of each held-out grid's
  first 4 s, all levels, and the whole grid with level 1 kept (`vary --keep-levels 1`); each generator
  regenerates it (3 seeds), the region's audio is compared with the training files' audio.
- speed: a whole 4-s grid sampled by the masked prior at batch 1 (12 steps), wall and CPU seconds.

Prints one JSON object; the trained networks are saved (safetensors) under --out for a rerun with --reuse.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from distill_tui.analysis.generated import relative_spectrum
from distill_tui.analysis.generation import WINDOW_SECONDS, plausibility
from distill_tui.analysis.memorization import bigram_log_tables
from distill_tui.data.dataset import scan
from distill_tui.inference.codec import load_codec
from distill_tui.inference.generate import Prior, positions_for_seconds
from distill_tui.inference.masked_sampling import MaskedSampler, masked_nll
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.model.masked_prior import MaskedPrior, masked_loss, span_mask
from distill_tui.model.prior import (
    PriorModel,
    adaptive_prior_config,
    flatten_codes,
    scoring_windows,
    slot_inputs,
)
from distill_tui.train.masked_loop import GridWindows, MaskedTrainConfig, batch_mask, masked_config
from distill_tui.train.prior_data import WindowSampler, encode_files
from distill_tui.train.prior_folds import make_folds, new_model, new_optimizer, train_step
from distill_tui.train.prior_loop import PriorTrainConfig
from distill_tui.train.state import Schedule

RATIOS = (0.3, 0.6, 0.9)


def train_causal(cfg, tc, grids, steps: int) -> tuple[PriorModel, float]:
    model, t0 = new_model(cfg, tc.seed), time.process_time()
    opt, sampler = new_optimizer(model, tc), WindowSampler(cfg, grids, tc.start_share, tc.seed)
    sched = Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio)
    model.train()
    for step in range(steps):
        train_step(model, opt, sampler, tc, sched.rate(step, step / steps))
    return model.eval(), time.process_time() - t0


def train_masked(cfg, tc: MaskedTrainConfig, grids, steps: int) -> tuple[MaskedPrior, float]:
    torch.manual_seed(tc.seed)
    model, t0 = MaskedPrior(cfg), time.process_time()
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
    windows, gen = GridWindows(grids, cfg.window, tc.seed), torch.Generator().manual_seed(tc.seed)
    sched = Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio)
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = sched.rate(step, step / steps)
        codes = windows.batch(tc.batch_size)
        loss = masked_loss(model, codes, batch_mask(codes, cfg, gen), tc.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
    return model.eval(), time.process_time() - t0


@torch.no_grad()
def causal_cells(model: PriorModel, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell (Q, P): NLL and arg-max hit of the causal prior, each slot scored in its generation window."""
    cfg = model.cfg
    seq = torch.from_numpy(flatten_codes(grid, cfg))[None]  # (1, N)
    nll, hit = np.zeros(seq.shape[1]), np.zeros(seq.shape[1])
    for w in scoring_windows(cfg, seq.shape[1]):
        logits = model(slot_inputs(cfg, seq, w.w0, w.i0, w.i1))[0]  # (T, V)
        tgt = seq[0, w.i0 : w.i1]
        lp = torch.log_softmax(logits.double(), -1)
        sl = slice(w.s0 - w.i0, w.s1 - w.i0)
        nll[w.s0 : w.s1] = -lp[sl].gather(1, tgt[sl, None])[:, 0].numpy()
        hit[w.s0 : w.s1] = (logits[sl].argmax(-1) == tgt[sl]).numpy()
    return nll.reshape(-1, cfg.levels).T, hit.reshape(-1, cfg.levels).T


def bigram_cells(tables, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts, trans = tables
    nll, hit = np.zeros(grid.shape), np.zeros(grid.shape)
    for q in range(grid.shape[0]):
        rows = np.vstack([starts[q][None], trans[q][grid[q, :-1]]])  # (P, K) log p of each position's code
        nll[q] = -rows[np.arange(grid.shape[1]), grid[q]]
        hit[q] = rows.argmax(1) == grid[q]
    return nll, hit


def fixed_mask(kind: str, g: np.ndarray) -> torch.Tensor:
    """"middle half": every level of the middle half of the grid; "levels 2+": every cell but level 1's."""
    m = np.zeros(g.shape, dtype=bool)
    if kind == "middle half":
        m[:, g.shape[1] // 4 : g.shape[1] - g.shape[1] // 4] = True
    else:
        m[1:] = True
    return torch.from_numpy(m)[None]


def infill(masked: MaskedPrior, causal: PriorModel, tables, val: list[np.ndarray], seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for r in (*RATIOS, "middle half", "levels 2+"):
        acc = {k: [0.0, 0.0] for k in ("masked", "causal", "bigram")}
        cells = 0
        for g in val:
            cn, ch = causal_cells(causal, g)
            bn, bh = bigram_cells(tables, g)
            for _ in range(4 if isinstance(r, float) else 1):
                mask = (span_mask(torch.tensor([r]), g.shape[0], g.shape[1], masked.cfg.span, gen)
                        if isinstance(r, float) else fixed_mask(r, g))  # (1, Q, P)
                mn, mh = masked_nll(masked, torch.from_numpy(g)[None], mask)
                m = mask[0].numpy()
                cells += int(m.sum())
                for k, (n, h) in {"masked": (mn[0].numpy(), mh[0].numpy()), "causal": (cn, ch), "bigram": (bn, bh)}.items():
                    acc[k][0] += float(n[m].sum())
                    acc[k][1] += float(h[m].sum())
        out[str(r)] = {"cells": cells, **{k: {"nll": round(v[0] / cells, 4), "accuracy": round(v[1] / cells, 4),
                                              "perplexity": round(math.exp(v[0] / cells), 2)} for k, v in acc.items()}}
    return out


def bigram_fill(tables, codes: np.ndarray, free: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The bigram regenerates the free cells left to right, each level a Markov chain of its own codes."""
    starts, trans = tables
    out = codes.copy()
    for q in range(codes.shape[0]):
        for t in np.flatnonzero(free[q]):
            lp = starts[q] if t == 0 else trans[q][out[q, t - 1]]
            p = np.exp(lp - lp.max())
            out[q, t] = rng.choice(len(p), p=p / p.sum())
    return out


def regenerated(codec, prior: Prior, sampler: MaskedSampler, tables, val, train_specs, seeds: int) -> dict:
    spec, stride = codec.spec, codec.cfg.stride
    frames = max(1, round(WINDOW_SECONDS * spec.sample_rate / spec.hop_length))
    p4 = positions_for_seconds(4.0, spec.sample_rate, spec.hop_length, stride)
    out = {}
    for task in ("middle half", "keep level 1"):
        specs = {k: [] for k in ("masked", "causal", "bigram", "held-out original")}
        for i, g in enumerate(val):
            g = g[:, :p4]
            free = np.zeros(g.shape, dtype=bool)
            lo, hi = (g.shape[1] // 4, g.shape[1] - g.shape[1] // 4) if task == "middle half" else (0, g.shape[1])
            if task == "middle half":
                free[:, lo:hi] = True
            else:
                free[1:] = True

            def crop(codes, lo=lo, hi=hi):
                audio = codec.decode(codec._grid(codes, "regenerated", {})).audio
                return relative_spectrum(codec, audio)[:, lo * stride : hi * stride]

            specs["held-out original"].append(crop(g))
            for s in range(seeds):
                settings = SamplingSettings(seed=1000 * i + s)
                prior.masked = sampler
                specs["masked"].append(crop(prior.regenerate_masked(g, free, settings, candidates=4)))
                prior.masked = None
                specs["causal"].append(crop(prior.regenerate_masked(g, free, settings, candidates=4)))
                specs["bigram"].append(crop(bigram_fill(tables, g, free, np.random.default_rng(1000 * i + s))))
        out[task] = {k: round(plausibility(v, train_specs, frames, spec.floor_db).mean_lsd_db, 3) for k, v in specs.items()}
        out[task]["sounds"] = len(specs["masked"])
    return out


def speed(sampler: MaskedSampler, prior: Prior, positions: int, levels: int, sizes) -> dict:
    free = np.ones((levels, positions), dtype=bool)
    codes = np.zeros((levels, positions), dtype=np.int64)
    walls, cpus = [], []
    for s in range(6):
        w0, c0 = time.perf_counter(), time.process_time()
        sampler.candidates(codes, free, SamplingSettings(seed=s), 1, torch.Generator().manual_seed(s))
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    w0, c0 = time.perf_counter(), time.process_time()
    prior.generate(positions, SamplingSettings(seed=0))
    causal = (time.perf_counter() - w0, time.process_time() - c0)
    return {"positions": positions, "tokens": positions * levels, "masked_wall_s_median": round(float(np.median(walls[1:])), 3),
            "masked_cpu_s_median": round(float(np.median(cpus[1:])), 3), "masked_wall_s_max": round(max(walls[1:]), 3),
            "causal_generate_wall_s": round(causal[0], 3), "causal_generate_cpu_s": round(causal[1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--causal-steps", type=int, default=600)
    ap.add_argument("--masked-steps", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--d-model", type=int, help="the masked prior's width (default: MaskedConfig's)")
    ap.add_argument("--layers", type=int, help="the masked prior's layers (default: MaskedConfig's)")
    ap.add_argument("--reuse", action="store_true", help="load the networks saved under --out instead of training")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    codec = load_codec(args.model)
    files = scan(args.data, codec.spec).files
    ptc, mtc = PriorTrainConfig(seed=args.seed), MaskedTrainConfig(seed=args.seed)
    codes = encode_files(codec, files, ptc)
    held = make_folds(len(codes.grids), args.seed, 5)[0]
    train, val, aug = codes.fold(held)
    sizes = codec.codebook_sizes
    ccfg = adaptive_prior_config(len(files), codec.cfg.levels, sizes)
    mcfg = masked_config(codec.cfg.levels, sizes, d_model=args.d_model, layers=args.layers)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"model": str(args.model), "data": str(args.data), "files": len(codes.grids), "held_out": [codes.names[i] for i in held],
              "augmented_train_grids": len(aug), "masked_config": mcfg.__dict__, "causal_config": ccfg.__dict__}
    if args.reuse:
        causal, masked = PriorModel(ccfg), MaskedPrior(mcfg)
        causal.load_state_dict(load_file(str(args.out / "causal.safetensors")))
        masked.load_state_dict(load_file(str(args.out / "masked.safetensors")))
        causal.eval(), masked.eval()
    else:
        causal, c_s = train_causal(ccfg, ptc, train + aug, args.causal_steps)
        masked, m_s = train_masked(mcfg, mtc, train + aug, args.masked_steps)
        save_file({k: v.contiguous() for k, v in causal.state_dict().items()}, str(args.out / "causal.safetensors"))
        save_file({k: v.contiguous() for k, v in masked.state_dict().items()}, str(args.out / "masked.safetensors"))
        report["train_cpu_s"] = {"causal": round(c_s, 1), "masked": round(m_s, 1), "causal_steps": args.causal_steps,
                                 "masked_steps": args.masked_steps}
    tables = bigram_log_tables(train + aug, sizes, 0.1)
    t0 = time.perf_counter()
    report["infill"] = infill(masked, causal, tables, val, args.seed)
    prior, sampler = Prior(causal, codec.fingerprint), MaskedSampler(masked)
    p4 = positions_for_seconds(4.0, codec.spec.sample_rate, codec.spec.hop_length, codec.cfg.stride)
    report["speed_4s"] = speed(sampler, prior, p4, codec.cfg.levels, sizes)
    assert len(codes.names) == len(files), "a file could not be encoded: the held-out indices would not match the files"
    train_specs = [relative_spectrum(codec, files[i].samples) for i in range(len(files)) if i not in set(held)]
    report["plausibility_db"] = regenerated(codec, prior, sampler, tables, val, train_specs, args.seeds)
    report["eval_wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
