"""`distill-tui generate MODEL -o OUT.wav`: new sounds, loops and one-shots from the prior; continue or regenerate
part of a codes file (a whole region, every n-th position of it, or every other beat); with --like, new sounds in
the style of chosen ones (`inference/style.py`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInputError, printable
from ..persistence.model_of_codes import note_model
from . import add_force, check_count, check_new_output, print_json

DEFAULT_SECONDS = 4.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="generate a sound with the prior",
        description="Sample a new code grid from the model's prior and decode it: a sound, a --loop that plays "
        "round without a seam, or a --one-shot that starts and ends in silence. With --prompt, continue a codes "
        "file from its first --prompt-positions positions, or regenerate a --region of it (all of it, --every N-th "
        "position, or every other beat at --bpm). With --like SOUND (once or more), the new sounds take after the chosen "
        "ones: each is prompted with a stretch of one of them, and leaned toward their habits by --strength.")
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
    p.add_argument("--candidates", type=int, help="regions sampled; the one that joins what follows best wins "
                   "(default 4; with --loop 16, with --one-shot 8)")
    p.add_argument("--every", type=int, metavar="N", help="with --region: regenerate only every N-th position of it")
    p.add_argument("--bpm", type=float, help="with --region: regenerate every other beat of it at this tempo "
                   "(the off-beats; the region's start is a beat)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--loop", action="store_true", help="a loop: its end flows into its start (decoded as a loop)")
    shape.add_argument("--one-shot", action="store_true", help="a sound that starts from silence and ends in it; "
                       "its length is drawn from the training sounds' lengths unless --seconds is given")
    p.add_argument("--like", type=Path, action="append", metavar="SOUND", help="make sounds in the style of this "
                   "sound (audio or a codes file of this model; a folder: every sound in it); give it again for more")
    p.add_argument("-n", type=int, default=1, help="with --like: how many sounds (default 1); more than one are "
                   "written as OUT-1.wav, OUT-2.wav, …")
    p.add_argument("--strength", type=float, help="with --like: how strongly the sounds lean toward the chosen "
                   "sounds' habits, 0 (the prompt alone) to 4 (default 2)")
    add_force(p, "OUT (and --codes-out)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def parse_region(text: str, positions: int, of: str = "the prompt") -> tuple[int, int]:
    """`--region START:END` checked against a grid of `positions` (`of` names it in the message)."""
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise BadInputError(f"--region must be START:END in positions, got {text!r}") from None
    if not 0 <= a < b <= positions:
        raise BadInputError(f"--region {a}:{b} must satisfy 0 <= START < END <= {positions} ({of}'s length)")
    return a, b


def _levels(text: str, levels: int) -> list[int]:
    try:
        chosen = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadInputError(f"--region-levels must be level numbers like 2,3, got {text!r}") from None
    if not chosen or any(not 1 <= v <= levels for v in chosen):
        raise BadInputError(f"--region-levels must be between 1 and {levels}")
    return [v - 1 for v in chosen]


def corpus_seconds(doc: Any, limit: float) -> list[float]:
    """The lengths (s) of the sounds the model was trained on: read from the dataset folder when it is still
    there (file headers only), else the mean length the model document records; each capped at `limit`."""
    from ..audio.io import audio_info
    from ..data.audio_files import find_audio

    root = Path(doc.dataset.root) if doc.dataset.root else None
    out: list[float] = []
    if root is not None and root.is_dir():
        for path in find_audio(root):
            try:
                out.append(float(audio_info(path).duration))
            except (RuntimeError, OSError, ValueError):
                continue
    if not out and doc.dataset.files:
        out = [doc.dataset.minutes * 60 / doc.dataset.files]
    return [min(max(v, 0.1), limit) for v in out] or [DEFAULT_SECONDS]


def _check(args: argparse.Namespace) -> None:
    if args.seconds is not None and not args.seconds > 0:
        raise BadInputError("--seconds must be positive")
    from ..inference.codec import DEFAULT_MAX_SECONDS

    if args.seconds is not None and not args.seconds <= DEFAULT_MAX_SECONDS:
        raise BadInputError(f"--seconds must be at most {DEFAULT_MAX_SECONDS:g} (the longest sound Distill decodes)")
    if args.prompt is None and (args.prompt_positions is not None or args.region or args.region_levels):
        raise BadInputError("--prompt-positions, --region and --region-levels need --prompt CODES")
    if args.region and args.prompt_positions is not None:
        raise BadInputError("use either --prompt-positions (continue) or --region (regenerate), not both")
    if args.region_levels and not args.region:
        raise BadInputError("--region-levels needs --region START:END")
    if (args.every is not None or args.bpm is not None) and not args.region:
        raise BadInputError("--every and --bpm need --region START:END")
    if args.every is not None and args.bpm is not None:
        raise BadInputError("use either --every or --bpm, not both")
    if (args.loop or args.one_shot) and args.prompt is not None:
        raise BadInputError(f"{'--loop' if args.loop else '--one-shot'} makes a new sound: it does not take --prompt")
    if args.candidates is not None:
        from ..inference.sampling import check_candidates

        check_candidates(args.candidates, "--candidates")
    if args.output.suffix.lower() not in {".wav", ".flac"}:
        raise BadInputError("output must end in .wav or .flac", args.output)
    _check_like(args)
    if args.codes_out is not None and args.codes_out.resolve() == args.output.resolve():
        raise BadInputError("--codes-out is the same file as -o: the codes would replace the audio", args.codes_out)
    n = args.n if args.like else 1
    for k in range(1, n + 1):  # before the model loads: nothing is drawn that cannot be written
        check_new_output(numbered(args.output, k, n), args.force)
        if args.codes_out is not None:
            check_new_output(numbered(args.codes_out, k, n), args.force, "--codes-out")


def _check_like(args: argparse.Namespace) -> None:
    from ..inference.style import check_strength

    if args.like is None:
        if args.n != 1 or args.strength is not None:
            raise BadInputError(f"{'-n' if args.n != 1 else '--strength'} needs --like SOUND")
        return
    if args.prompt is not None:
        raise BadInputError("--like makes new sounds: it does not take --prompt")
    check_count(args.n)
    if args.strength is not None:
        check_strength(args.strength)
    from ..data.audio_files import expand_folders

    sounds = []
    for path in args.like:  # a folder: every sound in it and below it
        if not path.exists():
            raise BadInputError(f"--like {printable(path)}: no such file or folder")
        try:
            sounds += expand_folders([path])
        except BadInputError as exc:
            raise BadInputError(f"--like {printable(path)}: {exc.reason}") from None
    args.like = sounds


def numbered(path: Path, k: int, n: int) -> Path:
    """OUT.wav -> OUT-k.wav (and X.codes.json -> X-k.codes.json) when there are n > 1 sounds."""
    if n == 1:
        return path
    name = path.name
    for suffix in (".codes.json", path.suffix):
        if suffix and name.lower().endswith(suffix.lower()):
            return path.with_name(f"{name[: -len(suffix)]}-{k}{name[-len(suffix):]}")
    return path.with_name(f"{name}-{k}")


def run(args: argparse.Namespace) -> int:
    from ..inference.codec import Codec, build_vqvae
    from ..inference.generate import Prior, SamplingSettings
    from ..persistence.model_file import load_model_file

    settings = SamplingSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    settings.validate()
    _check(args)
    mf = load_model_file(args.model)
    prior = Prior.from_loaded(mf, args.model)
    vq, spec = build_vqvae(mf, args.model)
    codec = Codec(vq, spec, mf.fingerprint, mf.document)

    t0 = time.perf_counter()
    outs = _sample_like(args, prior, codec, settings) if args.like else [_sample(args, prior, codec, settings)]
    sample_s = time.perf_counter() - t0
    results = [_write(args, codec, settings, out, k, len(outs), prior.last_seed) for k, out in enumerate(outs, 1)]
    tokens = sum(out["tokens"] for out in outs)
    result = {**results[0], "sampling_s": round(sample_s, 4), "tokens_per_s": round(tokens / max(sample_s, 1e-9), 1)}
    if args.like:
        result["sounds"] = results
    if args.json:
        print_json(result)
        return 0
    for r in results:
        seam = r.get("audio_seam", r.get("seam"))  # what is heard, where the loop was heard
        extra = f"; the wrap's jump is {seam['ratio']:.2f} of the loop's median step" if r["mode"] == "loop" else ""
        like = f", like {r['like']}" if "like" in r else ""
        print(f"{r['output']}: {r['seconds']:.2f} s ({r['positions']} positions, {r['mode']}{like}, seed {r['seed']})"
              f"{extra}")
    print(f"sampled {tokens} codes in {sample_s:.2f} s")
    return 0


def _write(args: argparse.Namespace, codec: Any, settings: Any, out: dict[str, Any], k: int, n: int,
           seed: int | None) -> dict[str, Any]:
    """Decode and save the k-th of n sampled grids; its part of the result."""
    from ..audio.io import save_audio

    spec = codec.spec
    codes, mode, source = out["codes"], out["mode"], out["source"]
    seed = out.get("seed", seed)
    output = numbered(args.output, k, n)
    codes_out = None if args.codes_out is None else numbered(args.codes_out, k, n)
    source = {**source, "samples": int(codes.shape[1] * codec.cfg.stride * spec.hop_length),
              "generated": {"mode": mode, "seed": seed, "temperature": settings.temperature,
                            "top_k": settings.top_k, "top_p": settings.top_p,
                            "prompt": None if args.prompt is None else str(args.prompt), **out.get("how", {})}}
    grid = codec._grid(codes, output.stem, source)
    if mode == "loop":
        from ..inference.loops import loop_audio

        audio = loop_audio(codec, codes)
    else:
        audio = codec.decode(grid).audio
    save_audio(output, audio, spec.sample_rate)
    if codes_out:
        note_model(grid.source, args.model)
        grid.save(codes_out)
    return {"output": str(output), "codes_out": None if codes_out is None else str(codes_out), "mode": mode,
            "positions": grid.positions, "levels": grid.levels, "seconds": round(grid.seconds, 3), "seed": seed,
            **out.get("extra", {})}


def _sample(args: argparse.Namespace, prior: Any, codec: Any, settings: Any) -> dict[str, Any]:
    """The grid the arguments ask for: {"codes", "mode", "tokens" (sampled), "source", "extra" (for the result)}."""
    from ..inference.generate import positions_for_seconds

    spec = codec.spec

    def to_positions(seconds: float) -> int:
        return positions_for_seconds(seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride)

    if args.prompt is not None:
        return _from_prompt(args, prior, codec, settings, to_positions)
    if args.loop:
        from ..inference.loops import DEFAULT_CANDIDATES, make_loop

        positions = max(2, to_positions(args.seconds or DEFAULT_SECONDS))
        n = args.candidates or DEFAULT_CANDIDATES
        made = make_loop(prior, codec, positions, settings, candidates=n)
        return {"codes": made.codes, "mode": "loop", "tokens": positions * prior.levels * (1 + n), "source": {},
                "extra": {"seam": made.seam.as_dict(), "candidates": n,
                          **({"audio_seam": made.audio_seam.as_dict()} if made.audio_seam else {})}}
    if args.one_shot:
        from ..inference.generate import silence_column

        seconds = args.seconds
        drawn = seconds is None
        if drawn:
            lengths = corpus_seconds(codec.doc, limit=30.0)
            seconds = float(np.random.default_rng(settings.seed).choice(lengths))
        positions = max(4, to_positions(seconds))
        n = args.candidates or 8
        codes = prior.one_shot(silence_column(codec), positions, settings, candidates=n)
        return {"codes": codes, "mode": "one-shot", "tokens": positions * prior.levels * n, "source": {},
                "extra": {"length_drawn": drawn}}
    positions = to_positions(args.seconds or DEFAULT_SECONDS)
    return {"codes": prior.generate(positions, settings), "mode": "generate", "tokens": positions * prior.levels,
            "source": {}}


def _sample_like(args: argparse.Namespace, prior: Any, codec: Any, settings: Any) -> list[dict[str, Any]]:
    """`--like`: n grids in the style of the chosen sounds, each as `_sample` gives one."""
    from ..analysis.generation import loop_seam
    from ..inference.generate import positions_for_seconds, silence_column
    from ..inference.loops import loop_spectrum
    from ..inference.style import DEFAULT_STRENGTH, generate_like
    from ..inference.variations import load_sound

    spec = codec.spec
    grids = []
    for path in args.like:
        try:
            grids.append(load_sound(codec, path, max_seconds=None))
        except BadInputError as exc:
            raise BadInputError(f"--like {printable(path)}: {exc.reason}") from None
    names = [printable(p.name) for p in args.like]
    mode = "loop" if args.loop else "one-shot" if args.one_shot else "generate"
    lengths = [args.seconds or DEFAULT_SECONDS] * args.n
    if args.one_shot and args.seconds is None:  # each as long as the sound that prompts it
        lengths = [min(grids[k % len(grids)].seconds, 30.0) for k in range(args.n)]
    positions = [max(4 if args.one_shot else 2, positions_for_seconds(s, spec.sample_rate, spec.hop_length,
                                                                         codec.cfg.stride)) for s in lengths]
    strength = DEFAULT_STRENGTH if args.strength is None else args.strength
    made = generate_like(prior, [g.codes for g in grids], args.n, positions, settings, strength=strength, mode=mode,
                         codec=codec, silence=silence_column(codec) if args.one_shot else None,
                         candidates=args.candidates, names=names)
    from ..inference.loops import DEFAULT_CANDIDATES

    draws = {"generate": 1, "loop": 1 + (args.candidates or DEFAULT_CANDIDATES), "one-shot": args.candidates or 8}[mode]
    outs = []
    for s in made.sounds:
        how = {"like": names[s.like], "like_positions": list(s.prompt), "strength": strength}
        extra: dict[str, Any] = {"like": names[s.like], "strength": strength}
        if mode == "loop":
            extra["seam"] = loop_seam(loop_spectrum(codec, s.codes)).as_dict()
        outs.append({"codes": s.codes, "mode": mode, "tokens": s.codes.size * draws, "source": {}, "seed": s.seed,
                     "how": how, "extra": extra})
    return outs


def _from_prompt(args: argparse.Namespace, prior: Any, codec: Any, settings: Any, to_positions: Any) -> dict[str, Any]:
    """Continue the prompt, or regenerate (part of) a region of it."""
    from ..codes.grid import CodeGrid

    prompt = CodeGrid.load(args.prompt)
    prompt.check_model(codec.fingerprint, codec.codebook_sizes, args.prompt)
    source = {k: v for k, v in prompt.source.items() if k in {"ref_db", "gain_db", "file"}}
    if args.region:
        from ..codes import masks

        if args.seconds is not None:
            raise BadInputError("--seconds does not apply to --region: the grid keeps the prompt's length")
        a, b = parse_region(args.region, prompt.positions)
        chosen = _levels(args.region_levels, prior.levels) if args.region_levels else None
        n = args.candidates or 4
        q, p = prior.levels, prompt.positions
        if args.every is not None:
            free = masks.every_nth(q, p, a, b, args.every, levels=chosen)
        elif args.bpm is not None:
            free = masks.beat_mask(q, p, a, b, args.bpm, prompt.seconds_per_position, levels=chosen)
        else:
            free = masks.region_mask(q, p, a, b, chosen)
        codes = prior.regenerate_masked(prompt.codes, free, settings, candidates=n)
        return {"codes": codes, "mode": "regenerate", "tokens": int(free.sum()) * n, "source": source,
                "extra": {"regenerated_positions": int(free.any(axis=0).sum())}}
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
    return {"codes": codes, "mode": "continue", "tokens": (total - keep) * prior.levels, "source": source}
