"""Faults found by trying to break Distill (issue 16): hostile names, numbers, sizes and configs.

Each test names the fault it pins down; every one of them failed before its fix.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.config import SpectrogramConfig
from distill_tui.data.dataset import scan

from .conftest import SR, synth, write_dataset

ODD = b"snare\xff.wav"  # not UTF-8: a name from an old archive or another system's encoding


def _odd_file(folder: Path) -> str:
    """Write a sound under a non-UTF-8 name; return that name as Python sees it (with a surrogate)."""
    raw = os.path.join(os.fsencode(folder), ODD)
    with open(raw, "wb") as fh:
        sf.write(fh, synth("noise", 0.3, seed=9), SR, format="WAV")
    return os.fsdecode(raw)


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ---- item 2: file names that are not UTF-8 ----------------------------------------------------------


def test_scan_finds_a_file_with_a_non_utf8_name(tmp_path):
    write_dataset(tmp_path, 2)
    odd = _odd_file(tmp_path)
    res = scan(tmp_path, SpectrogramConfig())
    assert str(odd) in {str(f.path) for f in res.files} and not res.skipped
    json.dumps([f.path.name.encode("utf-8", "backslashreplace").decode() for f in res.files])


def test_a_bad_non_utf8_file_is_skipped_with_a_printable_name(tmp_path):
    write_dataset(tmp_path, 2)
    with open(os.path.join(os.fsencode(tmp_path), b"broken\xfe.wav"), "wb") as fh:
        fh.write(b"RIFF....garbage")
    res = scan(tmp_path, SpectrogramConfig())
    (skipped,) = res.skipped
    assert skipped["path"].endswith("broken\\xfe.wav")
    skipped["path"].encode("utf-8")  # printable: no lone surrogates


def test_encode_a_non_utf8_name(tiny_model, tmp_path, capsys):
    odd = _odd_file(tmp_path)
    out = tmp_path / "snare.codes.json"
    rc, stdout, err = _cli(capsys, "encode", str(tiny_model), odd, "-o", str(out))
    assert rc == 0, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["source"]["file"].endswith("snare\\xff.wav") and doc["name"] == "snare\\xff"
    odd_out = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"out\xff.codes.json"))
    rc, stdout, err = _cli(capsys, "encode", str(tiny_model), odd, "-o", odd_out)
    assert rc == 0, err
    assert "out\\xff.codes.json" in stdout


# ---- item 3: NaN and Inf in a codes file ---------------------------------------------------------------


def _codes_doc(tiny_model: Path, tmp_path: Path, capsys) -> dict:
    src = tmp_path / "tone.wav"
    sf.write(src, synth("tone", 0.5), SR)
    out = tmp_path / "tone.codes.json"
    assert main(["encode", str(tiny_model), str(src), "-o", str(out)]) == 0
    capsys.readouterr()
    return json.loads(out.read_text())


@pytest.mark.parametrize("where", ["gain_db", "ref_db", "inf"])
def test_non_finite_numbers_in_a_codes_file_are_refused(tiny_model, tmp_path, capsys, where):
    doc = _codes_doc(tiny_model, tmp_path, capsys)
    if where == "inf":
        doc["source"]["extra"] = {"nested": [1.0, math.inf]}
    else:
        doc["source"][where] = math.nan
    bad = tmp_path / "bad.codes.json"
    bad.write_text(json.dumps(doc))  # Python writes NaN / Infinity, and reads them back
    for out in ("bad.wav", "bad.flac"):
        rc, _, err = _cli(capsys, "decode", str(tiny_model), str(bad), "-o", str(tmp_path / out))
        line = _one_error_line(err)
        assert rc == 2 and str(bad) in line and "source" in line and "finite" in line
        assert not (tmp_path / out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.codes.json", "tone.codes.json", "tone.wav"]


def test_decoded_non_finite_audio_is_refused_not_written(tiny_model, tmp_path, monkeypatch):
    from distill_tui.errors import DistillError
    from distill_tui.inference.codec import load_codec

    codec = load_codec(tiny_model)
    db = codec.decode_db(np.zeros((codec.cfg.levels, 8), dtype=np.int64))
    with pytest.raises(DistillError, match="NaN or infinite"):
        codec.db_to_audio(db, ref_db=math.nan)
    with pytest.raises(DistillError, match="NaN or infinite"):
        codec.db_to_audio(db, gain_db=math.inf)


def test_export_refuses_nan_and_leaves_nothing(tmp_path):
    from distill_tui.audio.export import ExportOptions, export_audio
    from distill_tui.errors import BadInputError

    samples = synth("tone", 0.2)
    samples[100] = np.nan
    for name in ("x.wav", "x.flac"):
        with pytest.raises(BadInputError, match="NaN"):
            export_audio(tmp_path / name, samples, SR, ExportOptions(normalize_db=-1.0))
    assert list(tmp_path.iterdir()) == []


# ---- item 10: generic errors where the reason is known ----------------------------------------------


@pytest.mark.parametrize(
    "case, text, match",
    [
        ("huge-int", None, "too large"),
        ("deep", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("empty-grid", None, "no positions"),
        ("no-levels", None, "no levels"),
        ("big-header", None, "positions"),
    ],
    ids=["huge-int", "deep", "empty-grid", "no-levels", "big-header"],
)
def test_codes_files_that_break_the_parser_fail_in_one_line(tiny_model, tmp_path, capsys, case, text, match):
    path = tmp_path / f"{case}.codes.json"
    if text is None:
        doc = _codes_doc(tiny_model, tmp_path, capsys)
        if case == "huge-int":
            doc["codes"][0][0] = 10**30
        elif case == "empty-grid":
            doc["codes"], doc["positions"] = [[] for _ in doc["codes"]], 0
        elif case == "no-levels":
            doc["codes"], doc["levels"], doc["codebook_sizes"] = [], 0, []
        else:
            doc["positions"] = 10**30
        text = json.dumps(doc)
    path.write_text(text)
    rc, _, err = _cli(capsys, "decode", str(tiny_model), str(path), "-o", str(tmp_path / "out.wav"))
    line = _one_error_line(err)
    assert rc == 2 and str(path) in line and match in line, line
    assert not (tmp_path / "out.wav").exists()
    if case == "empty-grid":  # a document an editor may save: it loads (and saves back), decoding refuses it
        assert CodeGrid.load(path).positions == 0
    else:
        with pytest.raises(Exception, match=match):
            CodeGrid.load(path)


def test_symlink_loops_and_unreadable_folders_are_listed_as_skipped(tmp_path, monkeypatch):
    write_dataset(tmp_path / "d", 2)
    root = tmp_path / "d"
    (root / "self.wav").symlink_to(root / "self.wav")  # a link to itself: ELOOP
    (root / "up").symlink_to(root, target_is_directory=True)  # a folder link back to an ancestor
    (root / "gone.wav").symlink_to(root / "missing.wav")
    locked = root / "locked"
    locked.mkdir()
    sf.write(locked / "hidden.wav", synth("tone", 0.3), SR)
    real_scandir = os.scandir

    def scandir(path):  # root reads any folder: refuse this one as the kernel would refuse a user
        if os.fsdecode(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    res = scan(root, SpectrogramConfig())
    assert len(res.files) == 2
    reasons = {Path(s["path"]).name: s["reason"] for s in res.skipped}
    assert "loop" in reasons["self.wav"] and "loop" in reasons["up"]
    assert "missing" in reasons["gone.wav"]
    assert reasons["locked"] == "cannot read the folder (Permission denied)"


# ---- item 6: long decodes: chunks, progress, a limit ---------------------------------------------------


def test_a_long_grid_decodes_in_chunks_like_one_pass(tiny_model):
    from distill_tui.inference.codec import decoder_context, load_codec

    codec = load_codec(tiny_model)
    x = np.concatenate([synth(k, 1.5, seed=i) for i, k in enumerate(["pad", "pluck", "sweep", "kick"])])
    grid = codec.encode_samples(x, "six")
    one = codec.decode(grid)
    calls: list[tuple[int, int]] = []
    chunked = codec.decode(grid, chunk_positions=40, progress=lambda done, total: calls.append((done, total)))
    n_chunks = -(-grid.positions // 40)
    assert calls == [(i, 2 * n_chunks) for i in range(1, 2 * n_chunks + 1)]
    assert decoder_context(codec.cfg) >= 3
    assert np.abs(chunked.db - one.db).max() < 1e-3  # the decoder saw its whole receptive field
    assert chunked.audio.shape == one.audio.shape and np.isfinite(chunked.audio).all()
    assert np.abs(chunked.audio - one.audio).max() < 0.1  # Griffin-Lim seams: cross-faded, nearly identical


def test_decoding_past_the_limit_is_one_line_naming_the_flag(tiny_model, tmp_path, capsys):
    doc = _codes_doc(tiny_model, tmp_path, capsys)  # 0.5 s
    path = tmp_path / "tone.codes.json"
    rc, _, err = _cli(capsys, "decode", str(tiny_model), str(path), "-o", str(tmp_path / "o.wav"), "--max-minutes", "0.005")
    line = _one_error_line(err)
    assert rc == 2 and "limit of 0.005 minutes" in line and "--max-minutes 1" in line
    assert not (tmp_path / "o.wav").exists()
    rc, _, err = _cli(capsys, "decode", str(tiny_model), str(path), "-o", str(tmp_path / "o.wav"), "--max-minutes", "1")
    assert rc == 0 and (tmp_path / "o.wav").exists(), err
    assert doc["positions"] > 0


def test_a_grid_made_for_exactly_the_limit_decodes_and_one_column_more_is_refused(tiny_model, tmp_path, capsys):
    """Found by hand: `generate --seconds 600` (the longest it takes) sampled for 15 s, then said "the grid decodes to
    10.0 minutes of audio, over the limit of 10 minutes": 600 s is 12,919.9 columns at 44.1 kHz, so 12,920. The whole
    columns that hold the limit pass, at every door: decode's look at the header, the decoder, and a loop's check."""
    from distill_tui.codes.grid import over_limit

    doc = _codes_doc(tiny_model, tmp_path, capsys)
    per_position = doc["stride"] * doc["hop_length"] / doc["sample_rate"]
    limit_s = 1.001 * per_position * 7.5  # a limit that ends half-way through the 8th column
    assert not over_limit(8, per_position, limit_s) and over_limit(9, per_position, limit_s)
    assert not over_limit(12920, 2048 / 44100, 600.0) and over_limit(12921, 2048 / 44100, 600.0)
    minutes = f"{limit_s / 60:.10f}"
    for positions, ok in ((8, True), (9, False)):
        for loop in (False, True):
            grid = dict(doc, positions=positions, codes=[row[:1] * positions for row in doc["codes"]], loop=loop)
            grid.pop("samples", None)
            path = tmp_path / f"g{positions}{loop}.codes.json"
            path.write_text(json.dumps(grid))
            out = tmp_path / f"g{positions}{loop}.wav"
            rc, _, err = _cli(capsys, "decode", str(tiny_model), str(path), "-o", str(out), "--max-minutes", minutes)
            assert (rc == 0) == ok and out.exists() == ok, (positions, loop, err)
            if not ok:
                line = _one_error_line(err)
                assert "over the limit of" in line and f"{positions * per_position:.1f}" in line, line


def test_ten_million_positions_fail_fast_in_one_line(tiny_model, tmp_path, capsys):
    import time

    doc = _codes_doc(tiny_model, tmp_path, capsys)
    positions = 10_000_000
    head = {k: v for k, v in doc.items() if k not in ("codes", "name", "source")} | {"positions": positions}
    path = tmp_path / "huge.codes.json"
    row = "[" + ",".join(["0"] * positions) + "]"
    path.write_text(json.dumps(head)[:-1] + ', "codes": [' + ",".join([row] * doc["levels"]) + "]}")
    started = time.monotonic()
    rc, _, err = _cli(capsys, "decode", str(tiny_model), str(path), "-o", str(tmp_path / "o.wav"))
    line = _one_error_line(err)
    assert rc == 2 and "over the limit of 10 minutes" in line and "--max-minutes" in line
    assert time.monotonic() - started < 5


# ---- item 5: crafted model files ------------------------------------------------------------------------


def _crafted_model(tiny_model: Path, tmp_path: Path, section: str, key: str | None, value) -> Path:
    """The tiny model with one config value replaced (the weights, and so the fingerprint, unchanged), written
    as a hostile tool would: straight to safetensors, past the checks `save_model_file` makes."""
    from safetensors.torch import save_file

    from distill_tui.persistence.model_file import META_KEY, load_model_file

    mf = load_model_file(tiny_model)
    doc = json.loads(json.dumps(mf.doc))
    if key is None:
        doc[section] = value
    else:
        doc[section][key] = value
    out = tmp_path / f"crafted-{section}-{key}.distill"
    flat = {f"{g}.{n}": t.contiguous() for g, ts in mf.tensors.items() for n, t in ts.items()}
    save_file(flat, str(out), metadata={META_KEY: json.dumps(doc)})
    return out


CRAFTED = [
    ("spectrogram", "griffin_lim_iters", 1e9, "spectrogram.griffin_lim_iters"),
    ("spectrogram", "griffin_lim_iters", 10**9, "0..1000"),
    ("spectrogram", "hop_length", 0, "spectrogram.hop_length"),
    ("spectrogram", "sample_rate", 0, "spectrogram.sample_rate"),
    ("spectrogram", "n_fft", 10**9, "spectrogram.n_fft"),
    ("spectrogram", "floor_db", "loud", "spectrogram.floor_db"),
    ("model", "res_blocks", 100000, "model.res_blocks"),
    ("model", "channels", 10**6, "model.channels"),
    ("model", "channels", 32.0, "whole number"),
    ("model", "latent_dim", 10**7, "model.latent_dim"),
    ("model", "edge_positions", 10**9, "model.edge_positions"),
    ("model", "dilation_growth", 100, "model.dilation_growth"),
    ("model", "quantize", "yes", "model.quantize"),
    ("model", "codebook_sizes", [16, 10**9], "model.codebook_sizes"),
    ("model", None, "oops", "'model' must be an object"),
    ("spectrogram", None, [1, 2], "'spectrogram' must be an object"),
]


@pytest.mark.parametrize("section, key, value, match", CRAFTED, ids=[f"{s}.{k}={str(v)[:12]}" for s, k, v, _ in CRAFTED])
def test_crafted_model_configs_are_refused_in_one_line(tiny_model, tmp_path, capsys, section, key, value, match):
    import time

    model = _crafted_model(tiny_model, tmp_path, section, key, value)
    src = tmp_path / "tone.wav"
    sf.write(src, synth("tone", 0.3), SR)
    started = time.monotonic()
    rc, _, err = _cli(capsys, "encode", str(model), str(src), "-o", str(tmp_path / "t.codes.json"))
    line = _one_error_line(err)
    assert rc == 2 and str(model) in line and match in line, line
    assert time.monotonic() - started < 10 and not (tmp_path / "t.codes.json").exists()


def test_real_configs_pass_the_bounds(tiny_toml):
    from distill_tui.config import ModelConfig, SpectrogramConfig, TrainConfig, from_dict, load_toml, to_dict
    from distill_tui.model.prior import PriorConfig
    from distill_tui.persistence.model_file import read_doc
    from distill_tui.train.prior_loop import PriorTrainConfig

    demo = read_doc(Path(__file__).parent.parent / "samples" / "demo.distill")
    from_dict(SpectrogramConfig, demo["spectrogram"])
    from_dict(ModelConfig, demo["model"])
    from_dict(TrainConfig, demo["training"]["train"])
    from_dict(PriorConfig, demo["prior"]["config"])
    from_dict(PriorTrainConfig, demo["prior"]["train"])  # steps = 10**9 when --minutes bounds the run
    tables = load_toml(tiny_toml)
    from_dict(ModelConfig, {**to_dict(ModelConfig()), **tables["model"]})
    from_dict(TrainConfig, tables["train"])
    for cls in (SpectrogramConfig, ModelConfig, TrainConfig, PriorConfig, PriorTrainConfig):
        from_dict(cls, to_dict(cls()))  # every default
    assert from_dict(ModelConfig, {"quantize_dropout": True}).quantize_dropout == 1.0  # an old file's `true`


def test_scanning_any_depth_and_links_to_the_same_folder(tmp_path):
    root = tmp_path / "d"
    write_dataset(root, 2)
    chain = [root / "x"]
    for _ in range(1199):  # deeper than Python's recursion limit
        chain.append(chain[-1] / "x")
    try:
        for folder in chain:
            folder.mkdir()
        with open(chain[-1] / "deep.wav", "wb") as fh:  # a path of 2,400 bytes: libsndfile stops at 1,024
            sf.write(fh, synth("pluck", 0.3), SR, format="WAV")
        (root / "again").symlink_to(root / "tonal", target_is_directory=True)
        res = scan(root, SpectrogramConfig())
        assert sorted(f.path.name for f in res.files) == ["deep.wav", "pluck1.wav", "tone0.wav"]
        assert [(Path(s["path"]).name, s["reason"]) for s in res.skipped] == [("again", "links to a folder already scanned")]
    finally:  # pytest's clean-up (shutil.rmtree) recurses, and would fail on this chain
        (chain[-1] / "deep.wav").unlink(missing_ok=True)
        for folder in reversed(chain):
            if folder.exists():
                folder.rmdir()


def test_a_bad_value_in_a_config_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[spectrogram]\nhop_length = 0\n")
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", synth("tone", 0.3), SR)
    rc, _, err = _cli(capsys, "train", str(data), "-o", str(tmp_path / "m.distill"), "--config", str(bad))
    line = _one_error_line(err)
    assert rc == 2 and str(bad) in line and "spectrogram.hop_length" in line
    assert not (tmp_path / "m.distill.run").exists()
