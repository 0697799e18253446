"""File formats: the `.distill` model file and `*.codes.json`, round trips and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import CodesFileError, ModelFileError, OutputError
from distill_tui.persistence.model_file import load_model_file, read_doc, save_model_file


def _doc():
    return {"spectrogram": {"sample_rate": 22050}, "model": {"levels": 2, "codebook_sizes": [8, 8]}, "dataset": {}}


def test_model_file_round_trip_and_fingerprint(tmp_path):
    t = {"vqvae": {"w": torch.arange(6.0).reshape(2, 3)}, "prior": {"p": torch.ones(2)}}
    fp = save_model_file(tmp_path / "m.distill", _doc(), t)
    mf = load_model_file(tmp_path / "m.distill")
    assert mf.fingerprint == fp and mf.doc["format"] == "distill" and mf.doc["version"] == 1
    assert torch.equal(mf.group("vqvae")["w"], t["vqvae"]["w"]) and torch.equal(mf.group("prior")["p"], torch.ones(2))
    # the fingerprint depends on the VQ-VAE weights only
    fp2 = save_model_file(tmp_path / "m2.distill", _doc(), {"vqvae": t["vqvae"]})
    assert fp2 == fp
    fp3 = save_model_file(tmp_path / "m3.distill", _doc(), {"vqvae": {"w": t["vqvae"]["w"] + 1}})
    assert fp3 != fp


def test_a_model_with_a_scalar_weight_is_saved_and_its_scalar_fingerprinted(tmp_path):
    """A 0-dim tensor (a batch norm's step counter) is hashed like any other; it once stopped the save."""
    w = {"w": torch.ones(3), "norm.num_batches_tracked": torch.tensor(5)}
    fp = save_model_file(tmp_path / "m.distill", _doc(), {"vqvae": w})
    assert load_model_file(tmp_path / "m.distill").group("vqvae")["norm.num_batches_tracked"].item() == 5
    other = save_model_file(tmp_path / "m2.distill", _doc(), {"vqvae": {**w, "norm.num_batches_tracked": torch.tensor(6)}})
    assert other != fp


def test_model_file_refusals(tmp_path):
    good = tmp_path / "m.distill"
    save_model_file(good, _doc(), {"vqvae": {"w": torch.ones(100)}})
    data = good.read_bytes()
    (tmp_path / "trunc.distill").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.distill").write_bytes(b"hello, this is not a model" * 10)
    save_file({"x": torch.ones(1)}, str(tmp_path / "plain.distill"))
    doc = read_doc(good)
    doc["version"] = 99
    save_file({"vqvae.w": torch.ones(100)}, str(tmp_path / "future.distill"), metadata={"distill": json.dumps(doc)})
    tampered = dict(read_doc(good))
    save_file({"vqvae.w": torch.zeros(100)}, str(tmp_path / "tampered.distill"), metadata={"distill": json.dumps(tampered)})
    cases = {"trunc.distill": "truncated", "junk.distill": "not a Distill model", "plain.distill": "without Distill metadata",
             "future.distill": "version 99", "tampered.distill": "fingerprint", "missing.distill": "no such model file"}
    for name, reason in cases.items():
        with pytest.raises(ModelFileError) as err:
            load_model_file(tmp_path / name)
        assert name in str(err.value) and reason in str(err.value) and "\n" not in str(err.value)


def test_model_file_save_failure_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "m.distill"
    save_model_file(path, _doc(), {"vqvae": {"w": torch.ones(3)}})
    before = path.read_bytes()

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("distill_tui.persistence.model_file.save_file", disk_full)
    with pytest.raises(OutputError, match="No space left"):
        save_model_file(path, _doc(), {"vqvae": {"w": torch.zeros(3)}})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.distill"]  # no temporary file left behind
    with pytest.raises(OutputError):
        save_model_file(tmp_path / "nope" / "m.distill", _doc(), {"vqvae": {"w": torch.zeros(3)}})


def test_model_file_library_write_error_keeps_previous(tmp_path, monkeypatch):
    """A full disk inside safetensors is a SafetensorError, not an OSError: still one line, old file kept."""
    from safetensors import SafetensorError

    path = tmp_path / "m.distill"
    save_model_file(path, _doc(), {"vqvae": {"w": torch.ones(3)}})
    before = path.read_bytes()

    def disk_full(tensors, filename, metadata=None):
        open(filename, "wb").write(b"partial")
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })')

    monkeypatch.setattr("distill_tui.persistence.model_file.save_file", disk_full)
    with pytest.raises(OutputError) as err:
        save_model_file(path, _doc(), {"vqvae": {"w": torch.zeros(3)}})
    assert str(err.value) == f"{path}: could not write the model file (No space left on device); the previous file is unchanged"
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.distill"]


def _grid(**kw):
    args = dict(codes=np.array([[1, 2, 3], [0, 15, 7]]), model_fingerprint="abc", codebook_sizes=[4, 16],
                sample_rate=22050, hop_length=256, stride=4, name="x", source={"file": "a.wav"})
    args.update(kw)
    return CodeGrid(**args)


def test_codes_round_trip(tmp_path):
    g = _grid()
    g.save(tmp_path / "g.codes.json")
    h = CodeGrid.load(tmp_path / "g.codes.json")
    assert np.array_equal(g.codes, h.codes) and h.to_json() == g.to_json()
    doc = json.loads((tmp_path / "g.codes.json").read_text())
    for key in ("format", "version", "model_fingerprint", "sample_rate", "hop_length", "stride", "levels", "positions",
                "codebook_sizes", "codes", "name", "source"):
        assert key in doc
    assert doc["format"] == "distill-codes" and doc["levels"] == 2 and doc["positions"] == 3


def test_codes_refusals(tmp_path):
    with pytest.raises(CodesFileError, match="outside its codebook"):
        _grid(codes=np.array([[1, 2, 4], [0, 1, 2]]))
    base = _grid().to_json()
    bad = {
        "range.codes.json": ({**base, "codes": [[1, 2, 3], [0, 16, 7]]}, "outside its codebook"),
        "neg.codes.json": ({**base, "codes": [[1, -1, 3], [0, 1, 7]]}, "outside its codebook"),
        "shape.codes.json": ({**base, "positions": 4}, "shape"),
        "format.codes.json": ({**base, "format": "other"}, "format"),
        "version.codes.json": ({**base, "version": 2}, "version 2"),
        "float.codes.json": ({**base, "codes": [[1, 2, 3.5], [0, 1, 7]]}, "integers"),
    }
    for name, (doc, reason) in bad.items():
        (tmp_path / name).write_text(json.dumps(doc))
        with pytest.raises(CodesFileError, match=reason) as err:
            CodeGrid.load(tmp_path / name)
        assert name in str(err.value)
    (tmp_path / "trunc.codes.json").write_text(json.dumps(base)[:40])
    with pytest.raises(CodesFileError, match="not valid JSON"):
        CodeGrid.load(tmp_path / "trunc.codes.json")
    with pytest.raises(CodesFileError, match="another model"):
        _grid().check_model("zzz", [4, 16])
    g = _grid()  # saved by Distill: the refusal says which model file made it (it said only two fingerprints)
    g.source["model_file"] = "/home/me/kits/kit.distill"
    with pytest.raises(CodesFileError, match=r"another model \(fingerprint abc, saved with /home/me/kits/kit.distill; "
                                             r"this model is zzz\)"):
        g.check_model("zzz", [4, 16])
    with pytest.raises(CodesFileError, match="codebook sizes"):
        _grid().check_model("abc", [4, 8])


def test_info_on_a_codes_or_audio_file_says_what_it_is(tmp_path, capsys):
    """Issue: `info x.codes.json` said "header too large" (safetensors' words)."""
    import soundfile as sf

    from distill_tui.cli import main

    codes = tmp_path / "x.codes.json"
    codes.write_text('{"format": "distill-codes"}')
    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros(100, np.float32), 22050)
    for path, what in ((codes, "a JSON file (a codes file?)"), (wav, "an audio file")):
        assert main(["info", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {path}: this is {what}, not a model file (.distill)"


def test_info_on_a_codes_file_points_at_the_model_that_made_it(tiny_model, tmp_path, capsys):
    """`info take.codes.json` said "this is a JSON file (a codes file?), not a model file" even when the model that
    made it was known: it now names that model, and the command that describes it."""
    from distill_tui.cli import main
    from distill_tui.inference.codec import load_codec
    from distill_tui.persistence.model_of_codes import note_model

    from .conftest import synth

    grid = load_codec(tiny_model).encode_samples(synth("pluck", 0.3), name="take")
    note_model(grid.source, tiny_model)
    take = grid.save(tmp_path / "take.codes.json")
    assert main(["info", str(take)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: {take}: is a codes file, made by {tiny_model}: `distill-tui info {tiny_model}` "
                           "describes that model")
