"""`eval` scores each file at its own rate over the full band, keeps its JSON keys and reports held-out files apart."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from pathlib import Path

import pytest
import soundfile as sf

from distill_tui.analysis.evaluate import held_out_digests
from distill_tui.cli import main
from distill_tui.config import TrainConfig
from distill_tui.data.dataset import scan, split
from distill_tui.persistence.model_file import load_model_file, read_document, save_model_file

from .conftest import SR, synth, write_dataset
from .test_quality import hat
from .test_train import TINY_MODEL

# what scripts read from `eval --json` (docs/architecture.md, "Command-line contract"): never renamed
OLD_KEYS = {"data", "files", "skipped", "model", "oracle_linear", "oracle_mel", "ratio_to_linear_oracle",
            "beats_mel_oracle", "health", "per_file"}
OLD_ROW_KEYS = {"path", "lsd_db", "oracle_lsd_db", "mel_oracle_lsd_db"}


def eval_json(capsys, *args: str | Path) -> dict:
    code = main(["eval", *[str(a) for a in args], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mixed_rates(tmp_path_factory) -> Path:
    """A 44.1 kHz hi-hat-like burst (under a name that is not UTF-8), a 44.1 kHz pad, a 22.05 kHz pluck, a 96 kHz
    tone."""
    folder = tmp_path_factory.mktemp("rates")
    sf.write(folder / "hat.wav", hat(0.6, 44100), 44100)
    os.rename(folder / "hat.wav", os.fsdecode(os.fsencode(folder) + b"/hat\xff.wav"))
    sf.write(folder / "pad44.wav", synth("pad", 0.8, sr=44100), 44100)
    sf.write(folder / "pluck22.wav", synth("pluck", 0.8), SR)
    sf.write(folder / "tone96.wav", synth("tone", 0.4, sr=96000), 96000)
    return folder


def test_a_lost_band_is_charged_and_the_keys_stay(tiny_model, mixed_rates, capsys):
    ev = eval_json(capsys, tiny_model, mixed_rates)
    assert OLD_KEYS <= set(ev) and ev["files"] == 4
    assert ev["model_path"] == str(tiny_model) and ev["sample_rate"] == SR
    for which in ("model", "oracle_linear", "oracle_mel"):
        assert {"lsd_db", "mrstft", "mel_db", "lsd_db_band_limited"} <= set(ev[which])
        assert set(ev["band_limited"][which]) == {"lsd_db", "mrstft", "mel_db"}
    rows = {Path(r["path"]).name: r for r in ev["per_file"]}
    assert set(rows) == {"hat\\xff.wav", "pad44.wav", "pluck22.wav", "tone96.wav"}  # printable names
    for row in rows.values():
        assert OLD_ROW_KEYS <= set(row)
    hat_row, pluck = rows["hat\\xff.wav"], rows["pluck22.wav"]
    assert hat_row["rate"] == hat_row["scored_at"] == 44100 and pluck["rate"] == SR
    assert rows["tone96.wav"]["rate"] == 96000 and rows["tone96.wav"]["scored_at"] == 48000
    # everything above 11 kHz is lost by a 22.05 kHz model: charged over the full band only, model and oracles alike
    assert hat_row["lsd_db"] > hat_row["lsd_db_band_limited"] + 5
    assert hat_row["oracle_lsd_db"] > hat_row["oracle_lsd_db_band_limited"] + 5
    # a file at the model's rate scores the same both ways
    assert abs(pluck["lsd_db"] - pluck["lsd_db_band_limited"]) < 0.01
    # the headline is the mean of the full-band figures, the band-limited mean beside it
    assert ev["model"]["lsd_db"] == pytest.approx(statistics.fmean(r["lsd_db"] for r in rows.values()), abs=2e-3)
    assert ev["model"]["lsd_db_band_limited"] == ev["band_limited"]["model"]["lsd_db"]
    assert ev["split"]["holdout"] == "none" and "held_out" not in ev


def test_the_table_names_both_figures(tiny_model, mixed_rates, capsys):
    assert main(["eval", str(tiny_model), str(mixed_rates)]) == 0
    out = capsys.readouterr().out
    assert "full band" in out and f"LSD dB at {SR} Hz" in out


def held_out_copy(tiny_model: Path, target: Path, files: int) -> Path:
    """The tiny model's weights under a document saying it trained with `--holdout files` on `files` files."""
    mf = load_model_file(tiny_model)
    doc = mf.document
    train = dataclasses.replace(doc.training.train or TrainConfig(), holdout="files", seed=3)
    doc = dataclasses.replace(doc, training=dataclasses.replace(doc.training, train=train),
                              dataset=dataclasses.replace(doc.dataset, files=files))
    save_model_file(target, doc, mf.tensors)
    return target


def test_held_out_files_are_reported_apart(tiny_model, tmp_path, capsys):
    data = write_dataset(tmp_path / "ten", n=10)
    model = held_out_copy(tiny_model, tmp_path / "held.distill", files=10)
    ev = eval_json(capsys, model, data)
    assert ev["split"]["holdout"] == "files" and "recomputed" in ev["split"]["note"]
    assert ev["held_out"]["files"] == 1 and ev["trained"]["files"] == 9
    # the trainer's split: the same function, the same seed
    files = scan(data, read_document(model).spectrogram).files
    expected = {str(f.path) for f in split(files, 0, seed=3, holdout="files").val}
    rows = ev["per_file"]
    assert {r["path"] for r in rows if r["held_out"]} == expected
    held = [r["lsd_db"] for r in rows if r["held_out"]]
    assert ev["held_out"]["lsd_db"] == pytest.approx(statistics.fmean(held), abs=2e-3)


def test_no_held_out_figure_when_the_split_cannot_be_redone(tiny_model, tmp_path):
    data = write_dataset(tmp_path / "nine", n=9)
    doc = read_document(held_out_copy(tiny_model, tmp_path / "held.distill", files=10))
    files = scan(data, doc.spectrogram).files
    digests, info = held_out_digests(doc, files)
    assert digests is None and "10 files" in info["note"] and "9" in info["note"]
    digests, info = held_out_digests(read_document(tiny_model), files)
    assert digests is None and info["holdout"] == "none"
    few = dataclasses.replace(doc, dataset=dataclasses.replace(doc.dataset, files=3))
    digests, info = held_out_digests(few, files[:3])
    assert digests is None and "crops" in info["note"]


def test_a_model_trained_with_held_out_files_records_them_and_eval_finds_them(tmp_path, capsys):
    """The trainer writes the held-out files' content digests into the model file; `eval` reads them there, so the
    figure does not rest on redoing the split, and it still works when the folder holds more files."""
    import shutil

    from distill_tui.train.vqvae_loop import TrainRequest, train_vqvae

    data = write_dataset(tmp_path / "ten", n=10)
    tc = TrainConfig(steps=4, batch_size=4, crop_frames=32, eval_every=2, kmeans_init_vectors=256, warmup_steps=1,
                     seed=5, holdout="files")
    res = train_vqvae(TrainRequest(data_dir=data, output=tmp_path / "h.distill", run_dir=tmp_path / "run", train=tc,
                                   model_overrides=dict(TINY_MODEL)))
    doc = read_document(res.output)
    files = scan(data, doc.spectrogram).files
    expected = {f.digest for f in split(files, 0, seed=5, holdout="files").val}
    assert set(doc.dataset.held_out) == expected and len(expected) == 1
    ev = eval_json(capsys, res.output, data)
    assert "recorded in the model file: 1 of the 1" in ev["split"]["note"]
    assert ev["held_out"]["files"] == 1 and ev["trained"]["files"] == 9
    held = next(f.path for f in files if f.digest in expected)
    shutil.copy(held, data / "moved-copy.wav")  # a new file in the folder: the split can no longer be redone
    ev = eval_json(capsys, res.output, data)
    assert ev["held_out"]["files"] == 2 and ev["trained"]["files"] == 9  # the same sound, found by its content
    assert "this folder has 11" in ev["split"]["note"]
