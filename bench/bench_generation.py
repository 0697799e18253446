"""Generated sounds against their corpus: plausibility (network vs bigram), copy rates, loop seams, one-shots.

    PYTHONPATH=$PWD python bench/bench_generation.py samples/demo.distill samples/sounds -n 20 --seconds 4
    PYTHONPATH=$PWD python bench/bench_generation.py /tmp/gen/m.distill /tmp/pd20 -n 20 --seconds 4 --loops 10 \
        --checkpoint /tmp/gen/m.distill.prior-run/checkpoint.safetensors

With --checkpoint, the "network" is the prior run's last network state (`model.*` of the checkpoint),
even when train-prior stored the bigram because that network lost on held-out perplexity; the bigram
is then the stored prior's own table, so the two are judged as train-prior judged them.

Prints one JSON object: `analysis.generated.generation_report` (as `eval --generation N --json` gives it)
plus, for scale, each real sound's distance to the others (leave one out), and the one-shots' figures: how loud their last and first decoded frames are against their loudest
frame (a one-shot should start with its attack and end in silence), and the wall time of each part.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distill_tui.analysis.generated import generation_report, stored_bigram
from distill_tui.data.dataset import scan
from distill_tui.inference.codec import load_codec
from distill_tui.inference.generate import Prior, positions_for_seconds, silence_column
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.threads import torch_threads


def checkpoint_prior(path: Path, fingerprint: str) -> Prior:
    """The network of a prior run's checkpoint (its last state), as a Prior."""
    from distill_tui.config import from_dict
    from distill_tui.model.prior import PriorConfig, PriorModel
    from distill_tui.train.checkpoint import read_checkpoint

    ckpt = read_checkpoint(path, "prior")
    model = PriorModel(from_dict(PriorConfig, ckpt.info["config"]))
    model.load_state_dict(ckpt.group("model"), strict=True)
    return Prior(model, fingerprint)


def real_reference(codec, corpus: list[np.ndarray], seconds: float) -> dict:
    """Each corpus sound (its first `seconds`) against all the others: the distance of a real, unseen sound."""
    from distill_tui.analysis.generated import relative_spectrum
    from distill_tui.analysis.generation import WINDOW_SECONDS, plausibility

    frames = max(1, round(WINDOW_SECONDS * codec.spec.sample_rate / codec.spec.hop_length))
    specs = [relative_spectrum(codec, s) for s in corpus]
    keep = int(seconds * codec.spec.sample_rate / codec.spec.hop_length) + 1
    per = [plausibility([s[:, :keep]], specs[:i] + specs[i + 1 :], frames, codec.spec.floor_db).mean_lsd_db
           for i, s in enumerate(specs)]
    return {"leave_one_out_db_median": float(np.median(per)), "leave_one_out_db_mean": float(np.mean(per))}


def one_shots(codec, prior: Prior, n: int, positions: int, seed: int) -> dict:
    """n one-shots: dB of the loudest bin of the first and last frame, below the sound's loudest bin."""
    col = silence_column(codec)
    first, last = [], []
    for i in range(n):
        codes = prior.one_shot(col, positions, SamplingSettings(seed=seed + 100 + i))
        db = codec.decode_db(codes).cpu().numpy()  # (F, T) relative dB
        peak = db.max(axis=0)  # (T,)
        first.append(float(peak[0] - peak.max()))
        last.append(float(peak[-1] - peak.max()))
    return {"n": n, "first_frame_below_peak_db_median": float(np.median(first)),
            "last_frame_below_peak_db_median": float(np.median(last))}


def audio_seams(codec, prior: Prior, n: int, positions: int, seed: int) -> dict:
    """The loops of the report (same seeds), measured on their audio: decoded as loops, and decoded alone."""
    from distill_tui.analysis.generation import audio_loop_seam, seam_summary
    from distill_tui.inference.loops import loop_audio, make_loop

    as_loop, alone = [], []
    for i in range(n):
        made = make_loop(prior, codec, positions, SamplingSettings(seed=seed + 1 + i))
        args = (codec.spec.n_fft, codec.spec.hop_length, codec.spec.floor_db)
        as_loop.append(audio_loop_seam(loop_audio(codec, made.codes), *args))
        alone.append(audio_loop_seam(codec.decode(codec._grid(made.codes, "loop", {})).audio, *args))
    return {"decoded_as_loop": seam_summary(as_loop), "decoded_alone": seam_summary(alone)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("-n", type=int, default=20, help="generated sounds per generator")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--one-shots", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--audio-seams", action="store_true", help="only: the --loops loops' seams measured on their audio")
    ap.add_argument("--checkpoint", type=Path, help="a prior run's checkpoint.safetensors: its last network is scored")
    args = ap.parse_args()

    with torch_threads(1):
        codec = load_codec(args.model)
        prior = Prior.from_model_file(args.model)
        bigram = None
        if args.checkpoint is not None:
            bigram = stored_bigram(prior)
            prior = checkpoint_prior(args.checkpoint, prior.fingerprint)
        files = scan(args.data, codec.spec).files
        spec = codec.spec
        positions = positions_for_seconds(args.seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride)
        if args.audio_seams:
            print(json.dumps(audio_seams(codec, prior, args.loops, positions, args.seed), indent=1))
            return
        t0 = time.perf_counter()
        report = generation_report(codec, prior, [f.samples for f in files], args.n, positions, seed=args.seed,
                                   loops=args.loops, bigram=bigram).as_dict()
        if args.checkpoint is not None:
            report["architecture"] = f"{prior.cfg.architecture} (last state of {args.checkpoint})"
        report["wall_s"] = round(time.perf_counter() - t0, 1)
        report["real_sounds"] = real_reference(codec, [f.samples for f in files], args.seconds)
        t0 = time.perf_counter()
        shot_positions = positions_for_seconds(1.0, spec.sample_rate, spec.hop_length, codec.cfg.stride)
        report["one_shots"] = {**one_shots(codec, prior, args.one_shots, shot_positions, args.seed),
                               "seconds": 1.0, "wall_s": round(time.perf_counter() - t0, 1)}
    report.update(model=str(args.model), data=str(args.data), files=len(files))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
