"""Stage 1's width when none is asked for: the narrower network where the budget buys too few steps of the full one.

What a time budget buys depends on the machine. On pads-drums-20 (bench/RESULTS.md, "Twenty-eighth session", a
2-core Zen 3 without bfloat16): with `--minutes 5` the full width (256 channels) took 764 and 866 steps (two
seeds) and decoded at 4.86 and 4.53 dB full band, the narrow one (128 channels) 1,797 and 1,921 steps and 4.20
and 4.12 dB; with `--minutes 15 --clock cpu` the full width took 3,114 steps and 3.38 dB, the narrow one 5,372
steps and 3.55 dB. The narrow network wins while the full one is starved of steps and loses once it has about
3,000; the gap crosses zero near 2,000 (interpolated in log steps). So the width is chosen from the steps the
full width would take in the budget: two steps of it are timed on the training device before training starts.
The narrow network pays on sounds it never heard: trained on 16 of the 20 files, 0.4 dB further on the 4 others
(two splits), while 0.3-0.6 dB closer on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..config import ModelConfig, SpectrogramConfig, TrainConfig
from ..model.vqvae import VQVAE, spectral_loss
from ..words import duration
from .state import make_clock

FULL_CHANNELS = ModelConfig.channels  # the default, 256
NARROW_CHANNELS = 128
FULL_FROM_STEPS = 2000  # the full width when the budget buys at least this many of its steps
PROBE_BATCH = 4  # crops per timed step; a step's cost grows with the batch, so the batch's share is scaled up
PROBE_STEPS = 2  # timed steps, after one untimed (its first call allocates)


@dataclass(frozen=True)
class WidthChoice:
    """The width chosen for a run, and the full width's steps in the budget that chose it."""

    channels: int
    full_steps: float  # steps of the full width the budget would buy, as timed
    step_s: float  # one full-width step, on the budget's clock

    @property
    def narrowed(self) -> bool:
        return self.channels != FULL_CHANNELS

    def event_fields(self, minutes: float) -> dict[str, Any]:
        """The `width` event's fields (`train/events.py`)."""
        return {"channels": self.channels, "full_steps": round(self.full_steps), "step_s": round(self.step_s, 4),
                "message": self.note(minutes)}

    def note(self, minutes: float) -> str:
        """What the trainer says about the choice, in a musician's words."""
        if not self.narrowed:
            return ""
        return (f"a lighter model ({self.channels} channels instead of {FULL_CHANNELS}): this computer would get through "
                f"only about {self.full_steps:,.0f} training steps of the full-size one in {duration(minutes * 60)}, and the "
                f"lighter one ends closer to your sounds in that time ([model] channels = {FULL_CHANNELS} in a --config "
                f"file keeps the full size)")


def width_for(cfg: ModelConfig, spec: SpectrogramConfig, tc: TrainConfig, device: str) -> WidthChoice | None:
    """The width of a fresh run of `cfg` (no width asked for) under `tc` on `device`: two full-width steps timed on the
    budget's clock say how many a time budget buys. None for a step budget, or a model without a quantizer (the
    baseline, which is given its model's width)."""
    if not tc.minutes or not cfg.quantize:
        return None
    step_s = full_width_step_seconds(cfg, spec, tc.crop_frames, tc.batch_size, device, tc.precision, make_clock(tc.clock))
    return choose_width(step_s, tc.minutes * 60, tc.steps)


def full_width_step_seconds(cfg: ModelConfig, spec: SpectrogramConfig, crop_frames: int, batch_size: int,
                            device: str, precision: str, clock: Callable[[], float]) -> float:
    """Seconds on `clock` one training step of `cfg` at the full width takes on `device`: forward and backward of
    `PROBE_BATCH` crops of `crop_frames` frames (random log-magnitudes: the cost does not depend on them), scaled to
    `batch_size`. The network is thrown away afterwards and torch's random state is left as it was."""
    probe_cfg = replace(cfg, channels=FULL_CHANNELS, kmeans_init=False)
    rng = torch.get_rng_state()
    try:
        model = VQVAE(probe_cfg, floor_db=spec.floor_db).to(device).train()
        crops = (torch.rand(PROBE_BATCH, cfg.n_bins, crop_frames, device=device) * -60.0)  # (B, n_bins, frames) dB
        inside = torch.ones(PROBE_BATCH, crop_frames, dtype=torch.bool, device=device)
        costs = []
        for k in range(PROBE_STEPS + 1):
            t0 = clock()
            with torch.autocast(crops.device.type, torch.bfloat16, enabled=precision == "bfloat16"):
                out = model(crops)
            loss = spectral_loss(out.recon_db.float(), crops, inside) + out.quant.commit_loss
            loss.backward()
            if device == "cuda":
                torch.cuda.synchronize()
            if k:
                costs.append(clock() - t0)
    finally:
        torch.set_rng_state(rng)
    return min(costs) * batch_size / PROBE_BATCH


def choose_width(step_s: float, budget_s: float, max_steps: float = float("inf")) -> WidthChoice:
    """The width for a run of `budget_s` seconds, and at most `max_steps` steps, whose full-width step costs `step_s`
    seconds. When the steps end the run before the time does, the full width stays: at equal steps it is the better."""
    full_steps = budget_s / max(step_s, 1e-9)
    narrow = full_steps < FULL_FROM_STEPS and full_steps < max_steps
    return WidthChoice(NARROW_CHANNELS if narrow else FULL_CHANNELS, min(full_steps, max_steps), step_s)
