"""CPU cost of one stage-1 training step on pads-drums-20 at 44.1 kHz, by part, on one torch thread.

    python bench/bench_step_cost.py base bf16 io1 bf16io1 base

Each variant: 5 warm-up and 20 timed steps (batch 16, 64-frame crops, the 20-file defaults), in one process
so that the variants share the machine's load. "bf16": bfloat16 autocast as `[train] precision = "bfloat16"`
does it; "io1": `[model] io_kernel = 1`. Needs the corpus at /tmp/pd20 (`python bench/corpus.py pads-drums-20
/tmp/pd20`). Prints process CPU milliseconds per step: making the crops, forward, backward, optimizer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from distill_tui.config import SpectrogramConfig, adaptive_model_config
from distill_tui.data.dataset import CropSampler, scan, split
from distill_tui.model.vqvae import VQVAE, spectral_loss
from distill_tui.train.adamw import AdamW


def step_cost(variant: str, sampler: CropSampler, n_bins: int, timed: int = 20) -> dict[str, float]:
    """CPU ms per step by part for one variant."""
    bf16 = "bf16" in variant
    torch.manual_seed(0)
    model = VQVAE(adaptive_model_config(20, 0.91, n_bins, **({"io_kernel": 1} if "io1" in variant else {}))).train()
    opt = AdamW(model.parameters(), lr=1e-3, fused=True)
    parts = dict.fromkeys(("data", "forward", "backward", "optimizer"), 0.0)
    for i in range(5 + timed):
        t0 = time.process_time()
        crops = sampler.crops(16)
        t1 = time.process_time()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            out = model(crops.db)
        loss = spectral_loss(out.recon_db.float(), crops.db, crops.inside) + out.quant.commit_loss
        t2 = time.process_time()
        opt.zero_grad()
        loss.backward()
        t3 = time.process_time()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t4 = time.process_time()
        if i >= 5:
            for key, a, b in zip(parts, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
                parts[key] += (b - a) / timed * 1000
    return parts


def main() -> None:
    torch.set_num_threads(1)
    spec = SpectrogramConfig(sample_rate=44100, n_fft=2048, hop_length=512)
    sampler = CropSampler(split(scan(Path("/tmp/pd20"), spec).files, 63 * 512), spec, 64, seed=0)
    for variant in sys.argv[1:] or ["base", "bf16", "io1", "bf16io1"]:
        parts = step_cost(variant, sampler, spec.n_bins)
        shown = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        print(f"{variant}: {sum(parts.values()):.1f} ms ({shown})", flush=True)


if __name__ == "__main__":
    main()
