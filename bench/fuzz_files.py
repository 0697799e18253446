"""Hostile files against the CLI (issue 16): build each one, run the command in-process, print a Markdown table.

    PYTHONPATH=$PWD python bench/fuzz_files.py [--model samples/demo.distill] [--keep DIR]

Every case says what it expects. "refused": exit 2, exactly one stderr line beginning `error:` that names the
input, nothing written at the output path and no temporary file left beside it. "works": exit 0 and the
output written. A case that takes longer than `--case-timeout` seconds fails. The table is what
bench/RESULTS.md ("Faults (issue 16)") records; run it again after a change and compare.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SR = 22050


@dataclass
class Case:
    name: str
    build: Callable[[Path], tuple[list[str], Path | None, str]]  # folder -> (argv, output path, input named)
    expect: str = "refused"  # or "works"


class CaseTimeout(BaseException):
    """Raised by the alarm; a BaseException so the CLI's last-resort `except Exception` does not swallow it."""


def _tone(path: Path, seconds: float = 0.5, nan: bool = False) -> Path:
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR)).astype(np.float32)
    if nan:
        x[10] = np.nan
    _write_wav(path, x)
    return path


def _write_wav(path: Path, x: np.ndarray) -> None:
    """A float WAV under any name (soundfile is handed an open file, so the name need not be UTF-8)."""
    with open(os.fsencode(path), "wb") as fh:
        sf.write(fh, x, SR, format="WAV", subtype="FLOAT")


# ---- model files -----------------------------------------------------------------------------------------


def _crafted(model: Path, edit: Callable[[dict], None], name: str) -> Callable[[Path], tuple[list[str], Path, str]]:
    def build(folder: Path) -> tuple[list[str], Path, str]:
        from distill_tui.persistence.model_file import load_model_file, save_model_file

        mf = load_model_file(model)
        doc = json.loads(json.dumps(mf.doc))
        edit(doc)
        bad = folder / f"{name}.distill"
        save_model_file(bad, doc, mf.tensors)
        out = folder / "out.codes.json"
        return ["encode", str(bad), str(_tone(folder / "tone.wav")), "-o", str(out)], out, str(bad)

    return build


def _raw_model(make: Callable[[bytes], bytes], name: str, model: Path) -> Callable[[Path], tuple[list[str], Path, str]]:
    def build(folder: Path) -> tuple[list[str], Path, str]:
        bad = folder / f"{name}.distill"
        bad.write_bytes(make(model.read_bytes()))
        out = folder / "out.codes.json"
        return ["encode", str(bad), str(_tone(folder / "tone.wav")), "-o", str(out)], out, str(bad)

    return build


def _set(section: str, key: str | None, value: object) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        if key is None:
            doc[section] = value
        else:
            doc[section][key] = value

    return edit


def model_cases(model: Path) -> list[Case]:
    raw = [
        ("model-truncated-half", lambda b: b[: len(b) // 2]),
        ("model-empty", lambda b: b""),
        ("model-random-bytes", lambda b: os.urandom(4096)),
        ("model-header-length-lies", lambda b: (2**60).to_bytes(8, "little") + b[8:]),
        ("model-is-json", lambda b: b'{"format": "distill"}'),
        ("model-one-weight-flipped", lambda b: b[:-100] + bytes([b[-100] ^ 0xFF]) + b[-99:]),
    ]
    crafted = [
        ("griffin_lim_iters=1e9", "spectrogram", "griffin_lim_iters", 1e9),
        ("griffin_lim_iters=10**9", "spectrogram", "griffin_lim_iters", 10**9),
        ("hop_length=0", "spectrogram", "hop_length", 0),
        ("sample_rate=0", "spectrogram", "sample_rate", 0),
        ("n_fft=10**9", "spectrogram", "n_fft", 10**9),
        ("floor_db=NaN", "spectrogram", "floor_db", math.nan),
        ("res_blocks=100000", "model", "res_blocks", 100000),
        ("channels=10**6", "model", "channels", 10**6),
        ("channels=96.0", "model", "channels", 96.0),
        ("latent_dim=10**7", "model", "latent_dim", 10**7),
        ("edge_positions=10**9", "model", "edge_positions", 10**9),
        ("stride=3", "model", "stride", 3),
        ("codebook_sizes=[64,10**9]", "model", "codebook_sizes", [64, 10**9]),
        ("model=\"oops\"", "model", None, "oops"),
        ("spectrogram=[]", "spectrogram", None, []),
    ]
    cases = [Case(name, _raw_model(make, name, model)) for name, make in raw]
    cases += [Case(f"config {name}", _crafted(model, _set(sec, key, val), f"crafted-{i}")) for i, (name, sec, key, val) in enumerate(crafted)]
    return cases


# ---- codes files -----------------------------------------------------------------------------------------


def _codes(model: Path, edit: Callable[[dict], object], name: str, fmt: str = "wav") -> Callable[[Path], tuple[list[str], Path, str]]:
    def build(folder: Path) -> tuple[list[str], Path, str]:
        from distill_tui.inference.codec import load_codec

        grid = load_codec(model).encode_file(_tone(folder / "tone.wav"))
        doc = grid.to_json()
        text = edit(doc)
        bad = folder / f"{name}.codes.json"
        bad.write_text(text if isinstance(text, str) else json.dumps(doc))
        out = folder / f"out.{fmt}"
        return ["decode", str(model), str(bad), "-o", str(out)], out, str(bad)

    return build


def _source(key: str, value: object) -> Callable[[dict], None]:
    return lambda doc: doc["source"].__setitem__(key, value)


def _huge_grid(doc: dict) -> str:
    positions = 10_000_000
    head = {k: v for k, v in doc.items() if k not in ("codes", "source")} | {"positions": positions}
    row = "[" + ",".join(["0"] * positions) + "]"
    return json.dumps(head)[:-1] + ', "codes": [' + ",".join([row] * doc["levels"]) + "]}"


def codes_cases(model: Path) -> list[Case]:
    edits: list[tuple[str, Callable[[dict], object], str]] = [
        ("source.gain_db=NaN -> wav", _source("gain_db", math.nan), "wav"),
        ("source.gain_db=NaN -> flac", _source("gain_db", math.nan), "flac"),
        ("source.ref_db=Infinity", _source("ref_db", math.inf), "wav"),
        ("NaN deep in source", _source("extra", {"a": [1, {"b": -math.inf}]}), "wav"),
        ("source.gain_db=1e308", _source("gain_db", 1e308), "wav"),
        ("source.samples=\"lots\"", _source("samples", "lots"), "wav"),
        ("code 10**30", lambda d: d["codes"][0].__setitem__(0, 10**30), "wav"),
        ("code -1", lambda d: d["codes"][0].__setitem__(0, -1), "wav"),
        ("code \"7\"", lambda d: d["codes"][0].__setitem__(0, "7"), "wav"),
        ("code 1.5", lambda d: d["codes"][0].__setitem__(0, 1.5), "wav"),
        ("empty grid", lambda d: d.update(codes=[[] for _ in d["codes"]], positions=0), "wav"),
        ("no levels", lambda d: d.update(codes=[], levels=0, codebook_sizes=[]), "wav"),
        ("positions=10**30", lambda d: d.update(positions=10**30), "wav"),
        ("hop_length=0", lambda d: d.update(hop_length=0), "wav"),
        ("100k-deep nesting", lambda d: "[" * 100_000 + "]" * 100_000, "wav"),
        ("truncated JSON", lambda d: json.dumps(d)[:200], "wav"),
        ("int of 5000 digits", lambda d: json.dumps(d).replace('"levels": ', '"levels": ' + "9" * 5000 + ", \"x\": "), "wav"),
        ("10 M positions", _huge_grid, "wav"),
        ("version 99", lambda d: d.update(version=99), "wav"),
        ("another model's fingerprint", lambda d: d.update(model_fingerprint="0" * 16), "wav"),
    ]
    cases = [Case(f"codes {name}", _codes(model, edit, f"c{i}", fmt)) for i, (name, edit, fmt) in enumerate(edits)]

    def not_utf8(folder: Path) -> tuple[list[str], Path, str]:
        bad = folder / "binary.codes.json"
        bad.write_bytes(b'{"format": "distill-codes", "name": "\xff\xfe"}')
        return ["decode", str(model), str(bad), "-o", str(folder / "out.wav")], folder / "out.wav", str(bad)

    def a_folder(folder: Path) -> tuple[list[str], Path, str]:
        bad = folder / "dir.codes.json"
        bad.mkdir()
        return ["decode", str(model), str(bad), "-o", str(folder / "out.wav")], folder / "out.wav", str(bad)

    return [*cases, Case("codes file not UTF-8", not_utf8), Case("codes file is a folder", a_folder)]


# ---- names, folders, audio -------------------------------------------------------------------------------


def audio_cases(model: Path) -> list[Case]:
    def odd_name(folder: Path) -> tuple[list[str], Path, str]:
        src = Path(os.fsdecode(os.path.join(os.fsencode(folder), b"snare\xff.wav")))
        _tone(src)
        out = folder / "snare.codes.json"
        return ["encode", str(model), str(src), "-o", str(out)], out, ""

    def odd_out(folder: Path) -> tuple[list[str], Path, str]:
        out = Path(os.fsdecode(os.path.join(os.fsencode(folder), b"out\xfe.codes.json")))
        return ["encode", str(model), str(_tone(folder / "tone.wav")), "-o", str(out)], out, ""

    def train_odd(folder: Path) -> tuple[list[str], Path, str]:
        data = folder / "sounds"
        data.mkdir()
        for i in range(3):
            _tone(data / f"t{i}.wav", 0.6)
        _tone(Path(os.fsdecode(os.path.join(os.fsencode(data), b"snare\xff.wav"))), 0.6)
        cfg = folder / "tiny.toml"
        cfg.write_text("[model]\nchannels = 16\nlatent_dim = 8\nres_blocks = 1\nlevels = 2\ncodebook_sizes = [8, 8]\n"
                       "[train]\nbatch_size = 2\ncrop_frames = 32\neval_every = 5\nkmeans_init_vectors = 64\nwarmup_steps = 1\n")
        out = folder / "odd.distill"
        return ["train", str(data), "-o", str(out), "--steps", "5", "--config", str(cfg), "--quiet"], out, ""

    def only_loops(folder: Path) -> tuple[list[str], Path, str]:
        data = folder / "loops"
        data.mkdir()
        (data / "self.wav").symlink_to(data / "self.wav")
        (data / "up").symlink_to(data, target_is_directory=True)
        out = folder / "loops.distill"
        return ["train", str(data), "-o", str(out), "--steps", "5", "--quiet"], out, str(data)

    def nan_wav(folder: Path) -> tuple[list[str], Path, str]:
        src = _tone(folder / "nan.wav", nan=True)
        out = folder / "nan.codes.json"
        return ["encode", str(model), str(src), "-o", str(out)], out, str(src)

    def empty_wav(folder: Path) -> tuple[list[str], Path, str]:
        src = folder / "empty.wav"
        _write_wav(src, np.zeros(0, dtype=np.float32))
        out = folder / "empty.codes.json"
        return ["encode", str(model), str(src), "-o", str(out)], out, str(src)

    return [
        Case("encode a non-UTF-8 name", odd_name, "works"),
        Case("encode to a non-UTF-8 name", odd_out, "works"),
        Case("train with a non-UTF-8 name", train_odd, "works"),
        Case("train on only symlink loops", only_loops),
        Case("encode a WAV holding NaN", nan_wav),
        Case("encode an empty WAV", empty_wav),
    ]


# ---- running -------------------------------------------------------------------------------------------


def run_case(case: Case, folder: Path, timeout_s: int) -> dict[str, object]:
    """Build and run one case in `folder`; returns the table row's values."""
    from distill_tui.cli import main

    argv, out, named = case.build(folder)
    before = set(os.listdir(os.fsencode(folder)))
    err, std = io.StringIO(), io.StringIO()

    def alarm(signum: int, frame: object) -> None:
        raise CaseTimeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout_s)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            rc: int | str = main(argv)
    except CaseTimeout:
        rc = "timeout"
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - started
    lines = err.getvalue().strip().splitlines()
    new = {os.fsdecode(n) for n in set(os.listdir(os.fsencode(folder))) - before}
    written = out is not None and os.path.exists(os.fsencode(out))
    if case.expect == "works":
        ok = rc == 0 and written
    else:
        stray = [n for n in new if n.startswith(".")]  # a temporary file left behind
        ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and (not named or named in lines[0])
              and not written and not stray)
    first = lines[0] if lines else ""
    return {"case": case.name, "command": argv[0], "exit": rc, "stderr": first, "seconds": seconds,
            "expect": case.expect, "ok": ok}


def _cell(text: str, folder: Path, width: int = 140) -> str:
    text = text.replace(str(folder) + "/", "").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "samples" / "demo.distill")
    parser.add_argument("--case-timeout", type=int, default=120)
    parser.add_argument("--only", help="run only cases whose name contains this")
    parser.add_argument("--keep", type=Path, help="build the cases here and keep them")
    args = parser.parse_args(argv)
    cases = [*model_cases(args.model), *codes_cases(args.model), *audio_cases(args.model)]
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    base = Path(tempfile.mkdtemp(prefix="distill-fuzz-")) if args.keep is None else args.keep
    os.environ.setdefault("DISTILL_CACHE", str(base / "cache"))
    print("| case | command | exit | first line of stderr | s | expected | result |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    try:
        for i, case in enumerate(cases):
            folder = base / f"case{i:02d}"
            folder.mkdir(parents=True)
            row = run_case(case, folder, args.case_timeout)
            failed += not row["ok"]
            print(f"| {row['case']} | {row['command']} | {row['exit']} | {_cell(str(row['stderr']), folder)} | "
                  f"{row['seconds']:.1f} | {row['expect']} | {'pass' if row['ok'] else 'FAIL'} |", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\n{len(cases) - failed} of {len(cases)} cases as expected", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
