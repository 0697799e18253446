"""The command line, as a user runs it: a true round trip on files written at test time, and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import soundfile as sf

from distill_tui.analysis.quality import log_spectral_distance

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
    assert run_cli("info", str(tiny_model)).returncode == 0


def test_errors_are_one_line_with_exit_2(tiny_model, tmp_path):
    (tmp_path / "bad.distill").write_bytes(b"\x00" * 100)
    (tmp_path / "noise.wav").write_text("nope")
    sf.write(tmp_path / "ok.wav", synth("tone", 0.3), SR)
    other = tmp_path / "other.codes.json"
    r = run_cli("encode", str(tiny_model), str(tmp_path / "ok.wav"), "-o", str(other))
    doc = json.loads(other.read_text())
    doc["model_fingerprint"] = "0000000000000000"
    other.write_text(json.dumps(doc))
    doc["model_fingerprint"] = json.loads((tmp_path / "other.codes.json").read_text())["model_fingerprint"]
    rng = dict(doc)
    good_fp = run_cli("info", str(tiny_model), "--json")
    rng["model_fingerprint"] = last_json(good_fp)["fingerprint"]
    rng["codes"] = [[99] * doc["positions"], doc["codes"][1]]
    (tmp_path / "range.codes.json").write_text(json.dumps(rng))
    cases = [
        (["info", str(tmp_path / "bad.distill")], "bad.distill"),
        (["info", str(tmp_path / "missing.distill")], "no such model file"),
        (["encode", str(tiny_model), str(tmp_path / "noise.wav"), "-o", str(tmp_path / "x.json")], "noise.wav"),
        (["decode", str(tiny_model), str(other), "-o", str(tmp_path / "x.wav")], "another model"),
        (["decode", str(tiny_model), str(tmp_path / "range.codes.json"), "-o", str(tmp_path / "x.wav")], "outside its codebook"),
        (["train", str(tmp_path / "empty-dir"), "-o", str(tmp_path / "m.distill")], "no such folder"),
        (["train", str(tmp_path), "-o", str(tmp_path / "m.distill"), "--steps", "0"], "--steps"),
        (["decode", str(tiny_model), str(tmp_path / "range.codes.json"), "-o", str(tmp_path / "x.mp3")], "range.codes.json"),
    ]
    for args, needle in cases:
        r = run_cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2, (args, r.stderr)
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_unwritable_output_keeps_existing_files(tiny_model, dataset, tmp_path):
    src = next(dataset.rglob("pluck*.wav"))
    r = run_cli("encode", str(tiny_model), str(src), "-o", str(tmp_path / "nodir" / "x.codes.json"))
    assert r.returncode != 0 and r.stderr.startswith("error:") and "nodir" in r.stderr
    # a model file being replaced survives a failed save (see test_files for the full-disk case)
    copy = tmp_path / "m.distill"
    shutil.copy(tiny_model, copy)
    before = copy.read_bytes()
    r = run_cli("train", str(tmp_path / "nothing-here"), "-o", str(copy), "--steps", "3")
    assert r.returncode == 2 and copy.read_bytes() == before


def test_train_folder_without_audio(tmp_path):
    (tmp_path / "readme.txt").write_text("no sounds")
    r = run_cli("train", str(tmp_path), "-o", str(tmp_path / "m.distill"), "--steps", "3")
    assert r.returncode == 2 and "no usable audio files" in r.stderr
