"""The masked prior's held-out NLL per level by the causal prior's 5 folds by file (train-prior's decision).

    PYTHONPATH=$PWD python bench/bench_masked_folds.py MODEL DATA_DIR [--cpu-seconds 26] [--evals 4] [--seed 0]

Each fold trains a fresh masked prior (the default shape, `MaskedTrainConfig`'s optimizer and masks) on its
training files and their augmented copies for `--cpu-seconds` of this process's CPU time (the causal prior's
folds got about 26 s each in `train-prior --minutes 3 --clock cpu` on pads-drums-20), scoring the held-out
files `--evals` times. The score is a true likelihood, read in the causal prior's order (time-major, levels
interleaved): each code is predicted from every earlier code in a window of `window` positions ending at its
column, its own cell and every later cell hidden. The step with the lowest fold-mean NLL is reported, per level
(nats per code, mean ± spread over folds) and beside it the same-level bigram (add-alpha, augmented, best alpha).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.data.dataset import scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.model.masked_prior import MaskedPrior, grid_tokens, masked_loss  # noqa: E402
from distill_tui.train.masked_loop import GridWindows, MaskedTrainConfig, batch_mask, masked_config  # noqa: E402
from distill_tui.train.prior_data import encode_files  # noqa: E402
from distill_tui.train.prior_folds import bigram_level_nll, make_folds  # noqa: E402
from distill_tui.train.prior_loop import PriorTrainConfig  # noqa: E402
from distill_tui.train.state import Schedule  # noqa: E402


@torch.no_grad()
def chain_nll(model: MaskedPrior, grids: list[np.ndarray], batch: int = 256) -> np.ndarray:
    """Summed NLL per level (levels,) of whole grids, each code given the earlier ones in its window."""
    cfg = model.cfg
    q, w = cfg.levels, cfg.window
    model.eval()
    groups: dict[int, list[tuple[torch.Tensor, int, int]]] = {}  # tile length -> (tokens, slot, level)
    for g in grids:
        tokens = grid_tokens(torch.from_numpy(g)[None], cfg)[0]  # (P * Q,)
        for t in range(g.shape[1]):
            s = max(0, t - w + 1)
            tile = tokens[s * q : (t + 1) * q]  # (L * Q,)
            for lv in range(q):
                x = tile.clone()
                first = (t - s) * q + lv
                x[first:] = cfg.vocab + torch.arange(q).repeat(t - s + 1)[first:]  # this cell and later: MASK
                groups.setdefault(t - s + 1, []).append((x, first, int(tile[first])))
    total = np.zeros(q)
    for items in groups.values():
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            x = torch.stack([c[0] for c in chunk])  # (B, L * Q)
            logits = model(x)  # (B, L * Q, V)
            rows = torch.arange(len(chunk))
            slots = torch.tensor([c[1] for c in chunk])
            logp = F.log_softmax(logits[rows, slots], dim=-1)  # (B, V)
            nll = -logp[rows, torch.tensor([c[2] for c in chunk])]  # (B,)
            for (_, slot, _), v in zip(chunk, nll.tolist(), strict=True):
                total[slot % q] += v
    model.train()
    return total


def run_fold(cfg, tc: MaskedTrainConfig, train: list[np.ndarray], val: list[np.ndarray], cpu_s: float, evals: int):
    torch.manual_seed(tc.seed)
    model = MaskedPrior(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
    windows, gen = GridWindows(train, cfg.window, tc.seed), torch.Generator().manual_seed(tc.seed)
    sched = Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio)
    t0, step, curve = time.process_time(), 0, []
    marks = [cpu_s * (k + 1) / evals for k in range(evals)]
    while marks:
        used = time.process_time() - t0
        if used >= marks[0]:
            marks.pop(0)
            curve.append((step, chain_nll(model, val).tolist()))
            t0 += time.process_time() - t0 - used  # scoring time does not count against training
            continue
        for g in opt.param_groups:
            g["lr"] = sched.rate(step, min(1.0, used / cpu_s))
        codes = windows.batch(tc.batch_size)
        loss = masked_loss(model, codes, batch_mask(codes, cfg, gen), tc.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--cpu-seconds", type=float, default=26.0)
    ap.add_argument("--evals", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    codec = load_codec(args.model)
    codes = encode_files(codec, scan(args.data, codec.spec).files, PriorTrainConfig())
    cfg = masked_config(codec.cfg.levels, codec.codebook_sizes)
    tc = MaskedTrainConfig(seed=args.seed)
    folds = make_folds(len(codes.grids), args.seed)
    tokens, curves, bigram = [], [], []
    for i, held in enumerate(folds):
        train, val, aug = codes.fold(held)
        n = sum(g.shape[1] for g in val)
        tokens.append(n)
        curves.append(run_fold(cfg, tc, train + aug, val, args.cpu_seconds, args.evals))
        bigram.append(bigram_level_nll(train + aug, val, codec.codebook_sizes) / max(n, 1))  # (A, Q)
        print(json.dumps({"fold": i + 1, "held_out": n, "steps": [s for s, _ in curves[-1]],
                          "masked_nll": [[round(v / n, 4) for v in c] for _, c in curves[-1]]}), flush=True)
    tok = np.array(tokens, dtype=np.float64)[:, None]  # (F, 1)
    net = np.array([[c for _, c in cur] for cur in curves]) / tok[:, None]  # (F, E, Q)
    e = int(net.mean(axis=2).mean(axis=0).argmin())
    big = np.array(bigram)  # (F, A, Q)
    a = int(big.mean(axis=2).mean(axis=0).argmin())
    for name, per in (("masked", net[:, e]), ("bigram", big[:, a])):  # (F, Q)
        levels = [f"{per[:, q].mean():.3f} ± {statistics.stdev(per[:, q].tolist()):.3f}" for q in range(per.shape[1])]
        mean = per.mean(axis=1)
        print(json.dumps({"model": name, "per_level": levels, "mean": round(float(mean.mean()), 4),
                          "perplexity": round(float(np.exp(mean.mean())), 3), "by_fold": [round(float(v), 4) for v in mean],
                          "step": curves[0][e][0] if name == "masked" else None}), flush=True)


if __name__ == "__main__":
    main()
