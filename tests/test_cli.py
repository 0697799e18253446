"""The command line: a true round trip in real processes on files written at test time, and refusals in-process."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from distill_tui.analysis.quality import log_spectral_distance
from distill_tui.cli import main

from .conftest import SR, run_cli, synth


def last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_round_trip_encode_decode_eval_info(tiny_model, dataset, tmp_path):
    src = next(dataset.rglob("pluck*.wav"))
    r = run_cli("encode", str(tiny_model), str(src), "-o", str(tmp_path / "p.codes.json"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "p.codes.json").read_text())
    assert doc["format"] == "distill-codes" and doc["levels"] == 2 and len(doc["codes"][0]) == doc["positions"]
    r = run_cli("decode", str(tiny_model), str(tmp_path / "p.codes.json"), "-o", str(tmp_path / "p.wav"), "--json")
    assert r.returncode == 0, r.stderr
    audio, sr = sf.read(tmp_path / "p.wav")
    original, _ = sf.read(src)
    assert sr == SR and abs(len(audio) - len(original)) < 256 and np.abs(audio).max() > 0.01
    assert np.isfinite(log_spectral_distance(original, audio))  # quality is tested on real audio in test_real_corpus
    # deterministic: decoding twice gives the same samples
    r2 = run_cli("decode", str(tiny_model), str(tmp_path / "p.codes.json"), "-o", str(tmp_path / "p2.wav"))
    assert r2.returncode == 0 and np.array_equal(sf.read(tmp_path / "p2.wav")[0], audio)
    # hear level 1 only
    r = run_cli("decode", str(tiny_model), str(tmp_path / "p.codes.json"), "-o", str(tmp_path / "l1.wav"), "--levels", "1")
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(tiny_model), str(dataset), "--json")
    assert r.returncode == 0, r.stderr
    ev = last_json(r)
    assert ev["files"] == 6 and ev["oracle_linear"]["lsd_db"] < ev["oracle_mel"]["lsd_db"]
    assert ev["model"]["lsd_db"] > ev["oracle_linear"]["lsd_db"] > 0
    assert set(ev["health"]) >= {"utilization", "perplexity", "dead_codes", "level_gain_db"}
    r = run_cli("info", str(tiny_model), "--json")
    info = last_json(r)
    for key in ("format", "version", "fingerprint", "sample_rate", "levels", "codebook_sizes", "has_prior", "dataset",
                "health", "prior"):
        assert key in info
    assert info["levels"] == 2 and info["codebook_sizes"] == [16, 16] and len(info["health"]["utilization"]) == 2
    said = run_cli("info", str(tiny_model))
    assert said.returncode == 0
    said = " ".join(said.stdout.split())  # a few seconds of audio read "(0.09 min)"
    assert "seconds of audio) from" in said and " min)" not in said, said


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the command in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_errors_are_one_line_with_exit_2(tiny_model, tmp_path, capsys):
    (tmp_path / "bad.distill").write_bytes(b"\x00" * 100)
    (tmp_path / "noise.wav").write_text("nope")
    sf.write(tmp_path / "ok.wav", synth("tone", 0.3), SR)
    other = tmp_path / "other.codes.json"
    code, _, err = cli(capsys, "encode", tiny_model, tmp_path / "ok.wav", "-o", other)
    assert code == 0, err
    doc = json.loads(other.read_text())
    fingerprint = doc["model_fingerprint"]
    doc["model_fingerprint"] = "0000000000000000"
    other.write_text(json.dumps(doc))
    rng = {**doc, "model_fingerprint": fingerprint, "codes": [[99] * doc["positions"], doc["codes"][1]]}
    (tmp_path / "range.codes.json").write_text(json.dumps(rng))
    cases = [
        (["info", tmp_path / "bad.distill"], "bad.distill"),
        (["info", tmp_path / "missing.distill"], "no such model file"),
        (["encode", tiny_model, tmp_path / "noise.wav", "-o", tmp_path / "x.json"], "noise.wav"),
        (["decode", tiny_model, other, "-o", tmp_path / "x.wav"], "another model"),
        (["decode", tiny_model, tmp_path / "range.codes.json", "-o", tmp_path / "x.wav"], "outside its codebook"),
        (["train", tmp_path / "empty-dir", "-o", tmp_path / "m.distill"], "no such folder"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--steps", "0"], "--steps"),
        (["generate", tiny_model, "-o", tmp_path / "x.wav", "--candidates", "1000000"], "--candidates must be from 1 to 64"),
        (["generate", tiny_model, "-o", tmp_path / "x.wav", "--seed", str(10**20)], "seed must be a whole number"),
        (["generate", tiny_model, "-o", tmp_path / "x.wav", "--seed", "-1"], "seed must be a whole number"),
        # these trained without end (NaN passed "<= 0"; inf and 1e12 minutes), or with the sounds' choice (0)
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--minutes", "nan"], "--minutes must be positive"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--minutes", "inf"], "more than a week"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--minutes", "1e12"], "more than a week"),
        (["train-prior", tiny_model, "--minutes", "nan"], "--minutes must be positive"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--levels", "0"], "--levels must be at least 1"),
        # Python errors with exit 1 (ValueError, ZeroDivisionError), or killed for memory (a batch of 100,000)
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--batch-size", "0"], "train.batch_size = 0 is not allowed"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--batch-size", "100000"], "train.batch_size"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--eval-every", "0"], "train.eval_every = 0"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--seed", "-1"], "train.seed = -1 is not allowed"),
        (["train-prior", tiny_model, "--seed", "-1"], "prior train.seed = -1 is not allowed"),
        (["train", tmp_path, "-o", tmp_path / "m.distill", "--codebook-size", "0"], "--codebook-size must be at least 1"),
        (["decode", tiny_model, tmp_path / "range.codes.json", "-o", tmp_path / "x.mp3"], "x.mp3: output must end in"),
        (["decode", tiny_model, tmp_path / "ok.wav.nope", "-o", tmp_path / "x.mp3"], "x.mp3"),  # was exit 1
        (["play", other, "--model", tiny_model], "other.codes.json: codes were made by another model"),  # unnamed
        (["decode", tiny_model], "required"),  # a usage error: argparse's own message, also one line
    ]
    for args, needle in cases:
        code, _, err = cli(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], (args, err)
        assert "Traceback" not in err
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "m.distill").exists()


def test_a_real_process_exits_2_with_one_error_line(tmp_path):
    """The one check that needs a process: `python -m distill_tui.cli` turns main's status into the exit status."""
    r = run_cli("info", str(tmp_path / "missing.distill"))
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert "no such model file" in r.stderr


def test_unwritable_output_keeps_existing_files(tiny_model, dataset, tmp_path, capsys):
    src = next(dataset.rglob("pluck*.wav"))
    code, _, err = cli(capsys, "encode", tiny_model, src, "-o", tmp_path / "nodir" / "x.codes.json")
    assert code != 0 and err.startswith("error:") and "nodir" in err
    # a model file being replaced survives a failed save (see test_files for the full-disk case)
    copy = tmp_path / "m.distill"
    shutil.copy(tiny_model, copy)
    before = copy.read_bytes()
    code, _, _ = cli(capsys, "train", tmp_path / "nothing-here", "-o", copy, "--steps", "3", "--force")
    assert code == 2 and copy.read_bytes() == before


def test_no_command_writes_over_a_file_already_there(tiny_model, prior_model, dataset, tmp_path, capsys):
    """`decode -o kick.wav` wrote over the musician's own kick, `encode x.wav -o x.wav` wrote JSON into it, and
    `train -o MODEL` replaced a model and its prior: every output that is already there is refused (exit 2, one
    line naming it) unless --force, and is then replaced."""
    kick = tmp_path / "kick.wav"
    sf.write(kick, synth("kick", 0.5), SR)
    codes = tmp_path / "kick.codes.json"
    assert cli(capsys, "encode", tiny_model, kick, "-o", codes)[0] == 0
    model = tmp_path / "mine.distill"
    shutil.copy(prior_model, model)
    kept = {p: p.read_bytes() for p in (kick, codes, model)}
    cases = [
        (["encode", tiny_model, kick, "-o", kick], "kick.wav"),
        (["encode", tiny_model, kick, "-o", codes], "kick.codes.json"),
        (["decode", tiny_model, codes, "-o", kick], "kick.wav"),
        (["generate", prior_model, "-o", kick, "--seconds", "0.5"], "kick.wav"),
        (["generate", prior_model, "-o", tmp_path / "new.wav", "--seconds", "0.5", "--codes-out", codes],
         "kick.codes.json"),
        (["train", dataset, "-o", model, "--steps", "3"], "mine.distill"),
    ]
    for args, needle in cases:
        code, _, err = cli(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}") and needle in lines[0], (args, err)
        assert "already there" in err and "--force" in err, err
    # numbered outputs (-n 2: kick-1.wav, kick-2.wav) and edit's -o are checked too, each before any work
    (tmp_path / "kick-2.wav").write_bytes(b"mine")
    code, _, err = cli(capsys, "generate", prior_model, "-o", kick, "--like", codes, "-n", "2")
    assert code == 2 and "kick-2.wav: already there" in err and not (tmp_path / "kick-1.wav").exists()
    code, _, err = cli(capsys, "edit", "reverse", codes, "-o", tmp_path / "kick-2.wav")
    assert code == 2 and "kick-2.wav: already there" in err
    assert {p: p.read_bytes() for p in kept} == kept and (tmp_path / "kick-2.wav").read_bytes() == b"mine"
    assert not (tmp_path / "new.wav").exists() and not (tmp_path / "mine.distill.run").exists()
    # two outputs of one command named the same: the second replaced the first
    code, _, err = cli(capsys, "generate", prior_model, "-o", tmp_path / "two.wav", "--codes-out", tmp_path / "two.wav")
    assert code == 2 and "--codes-out is the same file as -o" in err and not (tmp_path / "two.wav").exists()
    code, _, err = cli(capsys, "edit", "swap", codes, codes, "-o", tmp_path / "s.codes.json", "--other-output",
                       tmp_path / "s.codes.json")
    assert code == 2 and "--other-output is the same file as -o" in err and not (tmp_path / "s.codes.json").exists()

    # with --force the file is replaced
    code, _, err = cli(capsys, "decode", tiny_model, codes, "-o", kick, "--force")
    assert code == 0, err
    assert kick.read_bytes() != kept[kick] and sf.info(str(kick)).frames > 0
    code, _, err = cli(capsys, "edit", "reverse", codes, "-o", tmp_path / "kick-2.wav", "--force")
    assert code == 0 and json.loads((tmp_path / "kick-2.wav").read_text())["format"] == "distill-codes", err


def test_train_folder_without_audio(tmp_path, capsys):
    (tmp_path / "readme.txt").write_text("no sounds")
    code, _, err = cli(capsys, "train", tmp_path, "-o", tmp_path / "m.distill", "--steps", "3")
    assert code == 2 and "no usable audio files" in err


def test_no_command_opens_the_editor_and_keeps_top_level_options():
    from distill_tui.cli import _parse, build_parser

    parser = build_parser()
    args = _parse(parser, ["--debug"])
    assert args.command == "open" and args.debug
    assert _parse(parser, ["--help"]) == 0 and _parse(parser, ["--no-such-flag"]) == 2


def test_info_says_the_priors_verdict_first_and_its_figures_indented(capsys):
    """`info` opened its prior paragraph with "transformer, validation perplexity 18.98 (bigram 34.95), 8-gram copy
    rate 0%:" and put the verdict a musician reads after it; the fold figures ran on unindented."""
    from pathlib import Path

    demo = Path(__file__).parents[1] / "distill_tui" / "samples" / "demo.distill"
    code, out, _ = cli(capsys, "info", demo)
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("prior:"))
    assert code == 0 and lines[first].startswith("prior: healthy — predicts new sounds")
    rest = lines[first + 1 :]
    assert len(rest) >= 3 and all(line.startswith("  ") for line in rest), rest
    assert "how it was chosen (sounds held out of training, mean of 5 folds):" in out and "perplexity 18.98 against the bigram's" in out
    # the fold figures were one sentence of 60 words; now one fact a line, details under what they explain
    chosen = next(i for i, line in enumerate(lines) if "how it was chosen" in line)
    facts = [line.strip() for line in lines[chosen:] if line.startswith("    ") and not line.startswith("      ")]
    assert facts[:2] == ["perplexity of the network alone 50.75 (step 100), of the bigram 34.95",
                         "kept: a blend of the network, the bigram, the cross-level table and the"], facts
    assert any(line.strip().startswith("level 2 3.89±0.16 against 3.87±0.19") for line in lines), lines


@pytest.fixture
def opened(monkeypatch) -> dict:
    """What `open` handed the editor (model, audio, train_folder); the editor itself is not started."""
    import distill_tui.tui.app as app_module

    seen: dict = {}

    class Editor:
        def __init__(self, model, audio, theme=None, train_folder=None):
            seen.update(model=model, audio=audio, train_folder=train_folder)

        def run(self):
            return None

    monkeypatch.setattr(app_module, "DistillApp", Editor)
    return seen


def test_open_with_a_folder_opens_every_sound_in_it(tmp_path, opened, capsys):
    """`distill-tui open kit.distill ~/sounds/kit` answered "Cannot open …/kit: is a folder, not an audio file"
    inside the editor, which then held no sound. A folder now opens the audio files in it and below it, sorted,
    beside the files named; one without any is refused before the editor starts."""
    kit = tmp_path / "kit"
    (kit / "hats").mkdir(parents=True)
    for name in ("kick.wav", "hats/open.wav", "snare.flac"):
        sf.write(kit / name, synth("pluck", 0.2), SR)
    (kit / "notes.txt").write_text("not a sound")
    (kit / "kick.codes.json").write_text("{}")
    loose = tmp_path / "pad.wav"
    sf.write(loose, synth("pad", 0.3), SR)
    model = tmp_path / "m.distill"
    model.write_bytes(b"a model (the editor, not started here, would read it)")
    assert main(["open", str(model), str(loose), str(kit)]) == 0
    assert opened["audio"] == [loose, kit / "hats" / "open.wav", kit / "kick.wav", kit / "snare.flac"]
    (tmp_path / "empty").mkdir()
    opened.clear()
    code, out, err = cli(capsys, "open", model, tmp_path / "empty")
    assert code == 2 and err.strip() == f"error: {tmp_path / 'empty'}: no audio files in this folder or below it"
    assert opened == {}  # the editor never started
    opened.clear()
    assert main(["open", str(model), str(kit / "kick.wav"), str(kit), str(loose), str(tmp_path / "kit" / ".." / "pad.wav")]) == 0
    assert opened["audio"] == [kit / "kick.wav", kit / "hats" / "open.wav", kit / "snare.flac", loose]  # each once
    opened.clear()
    for typo in (tmp_path / "m.distil", tmp_path / "kti"):  # a path mistyped, as the model or as a sound
        code, out, err = cli(capsys, "open", *([typo] if typo.suffix else [model, typo]))
        assert code == 2 and err.strip() == f"error: {typo}: no such file or folder" and opened == {}


def test_open_with_a_folder_of_sounds_for_the_model_opens_the_training_form_on_it(tmp_path, opened, capsys):
    """`distill-tui open ~/sounds/kit`, before any model: "Cannot open the model …/kit: is a folder, not a model
    file" over an empty editor. The editor now opens with the training form on that folder."""
    kit = tmp_path / "kit"
    kit.mkdir()
    sf.write(kit / "kick.wav", synth("pluck", 0.2), SR)
    assert main(["open", str(kit)]) == 0
    assert opened == {"model": None, "audio": [], "train_folder": kit}
    opened.clear()
    code, _, err = cli(capsys, "open", kit, kit / "kick.wav")
    assert code == 2 and err.count("\n") == 1 and str(kit) in err and "not a model" in err and opened == {}
    (tmp_path / "notes").mkdir()  # no sounds: the editor says it is not a model file, as before
    assert main(["open", str(tmp_path / "notes")]) == 0
    assert opened["model"] == tmp_path / "notes" and opened["train_folder"] is None


def test_every_argument_of_every_command_says_what_it_takes():
    """`encode --help` listed "model" and "audio" with nothing beside them (decode, info, eval's --json too)."""
    import argparse

    from distill_tui.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    bare = []
    stack = list(commands.choices.items())
    while stack:
        name, sub = stack.pop()
        for action in sub._actions:  # noqa: SLF001
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 - edit's operations
                stack += [(f"{name} {n}", p) for n, p in action.choices.items()]
            elif not isinstance(action, argparse._HelpAction) and not action.help:  # noqa: SLF001
                bare.append(f"{name} {action.dest}")
    assert len(commands.choices) >= 12 and not bare, bare


def test_open_a_codes_file_first_finds_its_model_and_a_sound_first_says_what_to_give(tiny_model, tmp_path, opened,
                                                                                       capsys, monkeypatch):
    """`distill-tui open take.codes.json` said, inside an empty editor, "this is a JSON file (a codes file?), not
    a model file"; `distill-tui open kick.wav` said the same of an audio file. A codes file first now opens with
    the model that made it (named in the file, or beside it), and a sound first is refused saying what to give."""
    takes, elsewhere = tmp_path / "takes", tmp_path / "elsewhere"
    takes.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    wav = tmp_path / "kick.wav"
    sf.write(wav, synth("pluck", 0.3), SR)
    take = takes / "take.codes.json"
    assert main(["encode", str(tiny_model), str(wav), "-o", str(take)]) == 0
    assert json.loads(take.read_text())["source"]["model_file"] == str(tiny_model.absolute())
    capsys.readouterr()
    assert main(["open", str(take), str(wav)]) == 0
    assert opened["model"] == tiny_model and opened["audio"] == [take, wav]
    assert "opening take.codes.json with" in capsys.readouterr().err

    doc = json.loads(take.read_text())
    del doc["source"]["model_file"]  # written before the hint, and the model not beside it
    take.write_text(json.dumps(doc))
    opened.clear()
    code, _, err = cli(capsys, "open", take)
    assert code == 2 and opened == {} and err.count("\n") == 1, err
    assert err.startswith(f"error: {take}: is a codes file: give its model first, distill-tui open MODEL take.codes.json "
                          f"(no model with fingerprint {doc['model_fingerprint']} is beside it")
    code, _, err = cli(capsys, "open", wav)
    assert code == 2 and opened == {} and err.strip() == (f"error: {wav}: is a sound, not a model: give a model first "
                                                          "(distill-tui open MODEL SOUND ...), or a folder of sounds "
                                                          "to train one on it")
