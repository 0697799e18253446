"""`distill-tui generate MODEL -o OUT.wav`: new sounds from the prior; continue or regenerate part of a codes file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import BadInputError
from . import print_json

DEFAULT_SECONDS = 4.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="generate a sound with the prior",
        description="Sample a new code grid from the model's prior and decode it. With --prompt, continue a codes "
        "file from its first --prompt-positions positions, or regenerate a --region of it.")
    p.add_argument("model", type=Path, help="MODEL.distill with a prior (`distill-tui train-prior MODEL`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.wav or OUT.flac")
    p.add_argument("--seconds", type=float, help=f"length (default {DEFAULT_SECONDS:g} s; with --prompt, the prompt's length)")
    p.add_argument("--temperature", type=float, default=1.0, help="above 0; lower is safer, higher wilder (default 1)")
    p.add_argument("--top-k", type=int, help="sample only from the K likeliest codes")
    p.add_argument("--top-p", type=float, help="sample only from the likeliest codes that together reach P, in (0, 1]")
    p.add_argument("--seed", type=int, help="same seed and settings give the same grid (on CPU)")
    p.add_argument("--codes-out", type=Path, help="also write the grid as OUT.codes.json")
    p.add_argument("--prompt", type=Path, help="a codes file made by this model to continue or edit")
    p.add_argument("--prompt-positions", type=int, help="keep this many positions of the prompt and continue after them")
    p.add_argument("--region", help="START:END positions of the prompt to regenerate (what follows is kept)")
    p.add_argument("--region-levels", help="regenerate only these levels of the region, e.g. 2,3 (1 = coarsest)")
    p.add_argument("--candidates", type=int, default=4, help="regions sampled; the one that joins what follows best wins")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def _region(text: str, positions: int) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise BadInputError(f"--region must be START:END in positions, got {text!r}") from None
    if not 0 <= a < b <= positions:
        raise BadInputError(f"--region {a}:{b} must satisfy 0 <= START < END <= {positions} (the prompt's length)")
    return a, b


def _levels(text: str, levels: int) -> list[int]:
    try:
        chosen = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadInputError(f"--region-levels must be level numbers like 2,3, got {text!r}") from None
    if not chosen or any(not 1 <= v <= levels for v in chosen):
        raise BadInputError(f"--region-levels must be between 1 and {levels}")
    return [v - 1 for v in chosen]


def run(args: argparse.Namespace) -> int:
    from ..audio.io import save_audio
    from ..codes.grid import CodeGrid
    from ..inference.codec import Codec, build_vqvae
    from ..inference.generate import Prior, SamplingSettings, positions_for_seconds
    from ..persistence.model_file import load_model_file

    settings = SamplingSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    settings.validate()
    if args.seconds is not None and not args.seconds > 0:
        raise BadInputError("--seconds must be positive")
    if args.prompt is None and (args.prompt_positions is not None or args.region or args.region_levels):
        raise BadInputError("--prompt-positions, --region and --region-levels need --prompt CODES")
    if args.region and args.prompt_positions is not None:
        raise BadInputError("use either --prompt-positions (continue) or --region (regenerate), not both")
    if args.region_levels and not args.region:
        raise BadInputError("--region-levels needs --region START:END")
    if args.output.suffix.lower() not in {".wav", ".flac"}:
        raise BadInputError("output must end in .wav or .flac", args.output)

    mf = load_model_file(args.model)
    prior = Prior.from_loaded(mf, args.model)
    vq, spec = build_vqvae(mf, args.model)
    codec = Codec(vq, spec, mf.fingerprint, mf.document)

    def to_positions(seconds: float) -> int:
        return positions_for_seconds(seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride)

    source: dict = {}
    t0 = time.perf_counter()
    if args.prompt is None:
        positions = to_positions(args.seconds or DEFAULT_SECONDS)
        codes = prior.generate(positions, settings)
        mode, tokens = "generate", positions * prior.levels
    else:
        prompt = CodeGrid.load(args.prompt)
        prompt.check_model(codec.fingerprint, codec.codebook_sizes, args.prompt)
        source = {k: v for k, v in prompt.source.items() if k in {"ref_db", "gain_db", "file"}}
        if args.region:
            if args.seconds is not None:
                raise BadInputError("--seconds does not apply to --region: the grid keeps the prompt's length")
            a, b = _region(args.region, prompt.positions)
            chosen = _levels(args.region_levels, prior.levels) if args.region_levels else None
            if args.candidates < 1:
                raise BadInputError("--candidates must be at least 1")
            codes = prior.regenerate_region(prompt.codes, a, b, settings, levels=chosen, candidates=args.candidates)
            mode, tokens = "regenerate", (b - a) * len(chosen or range(prior.levels)) * args.candidates
        else:
            keep = prompt.positions if args.prompt_positions is None else args.prompt_positions
            if args.prompt_positions is not None and not 0 <= keep <= prompt.positions:
                raise BadInputError(f"--prompt-positions {keep} must be between 0 and the prompt's length {prompt.positions}")
            if args.seconds is not None:
                total = to_positions(args.seconds)
            elif keep < prompt.positions:
                total = prompt.positions
            else:
                total = keep + to_positions(DEFAULT_SECONDS)
            codes = prior.continue_codes(prompt.codes, keep, total, settings)
            mode, tokens = "continue", (total - keep) * prior.levels
    sample_s = time.perf_counter() - t0
    name = args.output.stem
    source = {**source, "samples": int(codes.shape[1] * codec.cfg.stride * spec.hop_length),
              "generated": {"mode": mode, "seed": prior.last_seed, "temperature": settings.temperature,
                            "top_k": settings.top_k, "top_p": settings.top_p,
                            "prompt": None if args.prompt is None else str(args.prompt)}}
    grid = codec._grid(codes, name, source)
    audio = codec.decode(grid).audio
    save_audio(args.output, audio, spec.sample_rate)
    if args.codes_out:
        grid.save(args.codes_out)
    result = {"output": str(args.output), "codes_out": None if args.codes_out is None else str(args.codes_out),
              "mode": mode, "positions": grid.positions, "levels": grid.levels, "seconds": round(grid.seconds, 3),
              "seed": prior.last_seed, "sampling_s": round(sample_s, 4),
              "tokens_per_s": round(tokens / max(sample_s, 1e-9), 1)}
    if args.json:
        print_json(result)
    else:
        print(f"{args.output}: {grid.seconds:.2f} s ({grid.positions} positions, {mode}, seed {prior.last_seed}); "
              f"sampled {tokens} codes in {sample_s:.2f} s")
    return 0
