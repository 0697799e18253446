"""Generate sounds with the model's prior and with a same-level bigram, and measure both against the corpus.

`generation_report` is what `eval --generation N` and bench/bench_generation.py run: N sounds from the
network (the stored prior), N from the bigram fitted on the corpus' own grids, each decoded and scored for
plausibility and novelty (analysis/generation.py), and N loops from `Prior.loop` scored for their seam,
beside the wrap of the ordinary generations (which were not made to loop) for comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .generation import (
    WINDOW_SECONDS,
    LoopSeam,
    Novelty,
    Plausibility,
    loop_seam,
    novelty,
    plausibility,
    seam_summary,
)
from .memorization import bigram_log_tables

if TYPE_CHECKING:
    from ..inference.codec import Codec
    from ..inference.generate import Prior

DEFAULT_ALPHA = 0.1  # the bigram's smoothing when the prior's report does not hold the one it chose


@dataclass
class GeneratorScore:
    """One way of generating (the network or the bigram), scored on its sounds."""

    name: str
    plausibility: Plausibility
    novelty: Novelty
    sampling_s: float  # time spent drawing the codes (not decoding)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plausibility_db": round(self.plausibility.mean_lsd_db, 3),
                "plausibility_per_sound_db": [round(v, 3) for v in self.plausibility.per_sound_db],
                "windows": self.plausibility.windows, **{k: round(v, 4) if isinstance(v, float) else v
                                                         for k, v in self.novelty.as_dict().items()},
                "sampling_s": round(self.sampling_s, 3)}


@dataclass
class GenerationReport:
    sounds: int
    seconds: float
    seed: int
    network: GeneratorScore
    bigram: GeneratorScore
    loops: list[LoopSeam] = field(default_factory=list)  # make_loop: the candidate with the smoothest wrap
    loops_prior_choice: list[LoopSeam] = field(default_factory=list)  # the candidate the prior finds likeliest
    plain_wraps: list[LoopSeam] = field(default_factory=list)  # the network's ordinary sounds, played round
    loop_candidates: int = 0
    architecture: str = ""
    bigram_source: str = ""

    @property
    def network_more_plausible(self) -> bool:
        return self.network.plausibility.mean_lsd_db < self.bigram.plausibility.mean_lsd_db

    def as_dict(self) -> dict[str, Any]:
        return {"sounds": self.sounds, "seconds": self.seconds, "seed": self.seed, "architecture": self.architecture,
                "window_seconds": WINDOW_SECONDS, "network": self.network.as_dict(), "bigram": self.bigram.as_dict(),
                "network_more_plausible": self.network_more_plausible, "bigram_source": self.bigram_source,
                "loop_candidates": self.loop_candidates, "loops": seam_summary(self.loops),
                "loops_prior_choice": seam_summary(self.loops_prior_choice), "plain_wraps": seam_summary(self.plain_wraps)}


def relative_spectrum(codec: Codec, samples: np.ndarray) -> np.ndarray:
    """Audio (N,) at the model's rate -> dB (F, T) relative to its loudest bin, floored like the model's input."""
    import torch

    from ..audio.spectrogram import magnitude_db, to_relative_db

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]  # (1, N)
    return to_relative_db(magnitude_db(x, codec.spec), codec.spec.floor_db)[0].numpy()


def _decoded_spectra(codec: Codec, grids: np.ndarray) -> list[np.ndarray]:
    out = []
    for codes in grids:
        audio = codec.decode(codec._grid(codes, "generated", {})).audio
        out.append(relative_spectrum(codec, audio))
    return out


def stored_bigram(prior: Prior) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """The same-level bigram a prior holds (log-probabilities: starts (K,), transitions (K, K)), else None.

    Priors built on a bigram and priors that blend one with their network hold it: the bigram train-prior
    fitted (on the augmented codes when that scored better, with its chosen smoothing), the baseline the
    network was judged against, and what a prior that fell back samples.
    """
    model = prior.model
    if not (getattr(model, "use_base", False) or getattr(model, "use_blend", False)):
        return None
    table = model.bigram.detach().cpu().double().numpy()  # (V + Q, V)
    cfg = prior.cfg
    starts = [table[cfg.vocab + q, o : o + k] for q, (o, k) in enumerate(zip(cfg.offsets, cfg.codebook_sizes, strict=True))]
    trans = [table[o : o + k, o : o + k] for o, k in zip(cfg.offsets, cfg.codebook_sizes, strict=True)]
    return starts, trans


def generation_report(codec: Codec, prior: Prior, corpus: list[np.ndarray], n: int, positions: int, *,
                      seed: int = 0, loops: int | None = None,
                      bigram: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> GenerationReport:
    """n sounds of `positions` from the network and from the bigram, scored against `corpus` (audio at the model's rate).

    The bigram is `bigram` when given, else the one the prior holds (`stored_bigram`), else one fitted on
    the corpus' codes with the smoothing the prior's report chose. `loops` (default n) loops are made with `inference.loops.make_loop`; their seams are measured on the
    decoder's spectrum decoded as a loop (`loop_spectrum`), as are the ordinary sounds' wraps.
    """
    from ..inference.generate import bigram_generate
    from ..inference.loops import DEFAULT_CANDIDATES, loop_spectrum, make_loop
    from ..inference.sampling import SamplingSettings

    if n < 1 or positions < 2:
        raise ValueError("generation_report needs at least one sound of at least two positions")
    train_grids = [codec.encode_samples(s).codes for s in corpus if np.abs(s).max(initial=0) > 1e-5]
    train_specs = [relative_spectrum(codec, s) for s in corpus]
    frames = max(1, round(WINDOW_SECONDS * codec.spec.sample_rate / codec.spec.hop_length))
    sizes = codec.codebook_sizes

    t0 = time.perf_counter()
    net = prior.generate_batch(n, positions, SamplingSettings(seed=seed))  # (n, Q, P)
    net_s = time.perf_counter() - t0
    source = "given"
    if bigram is None and (bigram := stored_bigram(prior)) is not None:
        source = "the prior's own table (as train-prior fitted it)"
    if bigram is None:
        alpha = float((prior.doc.extra if prior.doc else {}).get("bigram_alpha", DEFAULT_ALPHA))
        bigram, source = bigram_log_tables(train_grids, sizes, alpha), f"fitted on these sounds' codes (alpha {alpha:.3g})"
    starts, trans = bigram
    t0 = time.perf_counter()
    big = bigram_generate(starts, trans, n, positions, np.random.default_rng(seed))  # (n, Q, P)
    big_s = time.perf_counter() - t0

    scores = {}
    for name, grids, secs in (("network", net, net_s), ("bigram", big, big_s)):
        spectra = _decoded_spectra(codec, grids)
        scores[name] = GeneratorScore(name, plausibility(spectra, train_specs, frames, codec.spec.floor_db),
                                      novelty(list(grids), train_grids, sizes), secs)
    made = [make_loop(prior, codec, positions, SamplingSettings(seed=seed + 1 + i))
            for i in range(n if loops is None else loops)]
    plain = [loop_seam(loop_spectrum(codec, g)) for g in net]
    return GenerationReport(n, round(codec.seconds_for(positions), 3), seed, scores["network"], scores["bigram"],
                            [m.seam for m in made], [m.prior_choice_seam for m in made], plain, DEFAULT_CANDIDATES,
                            prior.doc.architecture if prior.doc else "", source)
