"""The typed model document: one reader that validates, one writer, old and newer files round-trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from distill_tui.errors import ModelFileError
from distill_tui.persistence.document import ModelDocument, health_of
from distill_tui.persistence.model_file import load_model_file, read_document, save_model_file

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo.distill"


def demo_dict() -> dict:
    with safe_open(str(DEMO), framework="pt") as fh:
        return json.loads(fh.metadata()["distill"])


def test_demo_round_trips():
    raw = demo_dict()
    doc = ModelDocument.from_dict(raw, DEMO)
    assert ModelDocument.from_dict(doc.to_dict()) == doc
    assert doc.to_dict() == raw  # nothing lost, nothing added
    assert doc.model.codebook_sizes == [64, 64] and doc.sample_rate == 44100
    assert doc.training.max_file_seconds == 600.0 and doc.prior is not None and doc.prior.architecture == "transformer" and doc.prior.config["blend"] == "linear"
    assert doc.health is not None and len(doc.health.level_gain_db) == 2 and doc.counts is not None
    assert doc.perceptual is not None and len(doc.perceptual.levels) == 2
    assert load_model_file(DEMO).document == doc and read_document(DEMO) == doc


def test_unknown_keys_survive_a_save(tmp_path: Path):
    raw = demo_dict()
    raw["from_the_future"] = {"x": 1}
    raw["model"]["new_knob"] = 3
    raw["training"]["train"]["new_train_knob"] = "y"
    raw["health"]["new_measure"] = [1, 2]
    raw["perceptual"] = {"version": 2, "shape": "different"}  # a newer cache: kept, not used
    doc = ModelDocument.from_dict(raw)
    assert doc.perceptual is None
    out = doc.to_dict()
    assert out["from_the_future"] == {"x": 1} and out["model"]["new_knob"] == 3
    assert out["training"]["train"]["new_train_knob"] == "y" and out["health"]["new_measure"] == [1, 2]
    assert out["perceptual"] == {"version": 2, "shape": "different"}
    mf = load_model_file(DEMO)
    save_model_file(tmp_path / "m.distill", doc, mf.tensors)
    assert read_document(tmp_path / "m.distill").to_dict() == out


def test_old_files_load():
    raw = demo_dict()
    raw["model"]["quantize_dropout"] = True  # files from before quantize_dropout became a share
    raw["prior"] = None
    for key in ("perceptual", "health", "distill_tui_version"):
        raw.pop(key)
    del raw["dataset"]["median_ref_db"], raw["training"]["healthy_at_s"]
    doc = ModelDocument.from_dict(raw)
    assert doc.model.quantize_dropout == 1.0 and doc.prior is None and doc.health is None
    out = doc.to_dict()
    assert "median_ref_db" not in out["dataset"] and "healthy_at_s" not in out["training"] and "perceptual" not in out
    assert health_of(out) is None and health_of(demo_dict()) == ModelDocument.from_dict(demo_dict()).health


def _with(path: str, value: object) -> dict:
    raw = copy.deepcopy(demo_dict())
    *parents, last = path.split(".")
    node = raw
    for p in parents:
        node = node[p]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return raw


@pytest.mark.parametrize(("path", "value", "message"), [
    ("version", "1", "version must be an integer, got '1'"),
    ("version", 2, "version 2 is not supported (this Distill reads version 1)"),
    ("format", "other", "wrong format name"),
    ("fingerprint", KeyError, "lacks 'fingerprint'"),
    ("model", KeyError, "lacks 'model'"),
    ("model", [1, 2], "'model' must be an object"),
    ("model.codebook_sizes", [64, "64"], "model.codebook_sizes = [64, '64'] is not allowed: it must be a list of whole numbers"),
    ("model.levels", 3, "model.levels 3 but 2 codebook sizes"),
    ("spectrogram.sample_rate", 22050.5, "spectrogram.sample_rate = 22050.5 is not allowed: it must be a whole number"),
    ("training.steps", "many", "'training.steps' must be an integer or null"),
    ("training.train.lr", "fast", "'training.train.lr' must be a number"),
    ("dataset.files", True, "'dataset.files' must be an integer"),
    ("health.utilization", 0.5, "'health.utilization' must be a list"),
    ("prior.config", KeyError, "lacks 'prior.config'"),
    ("prior.val_perplexity", "low", "'prior.val_perplexity' must be a number or null"),
    ("dataset.held_out", "ab12", "'dataset.held_out' must be a list or null, got 'ab12'"),
    ("dataset.held_out", ["ab12", 7], "'dataset.held_out[1]' must be a string, got 7"),  # the item, not "got list"
])
def test_refusals_name_the_field(path: str, value: object, message: str):
    with pytest.raises(ModelFileError) as err:
        ModelDocument.from_dict(_with(path, value), "m.distill")
    assert message in str(err.value) and str(err.value).startswith("m.distill: ") and "\n" not in str(err.value)


def test_a_string_version_in_a_file_is_named(tmp_path: Path):
    raw = demo_dict()
    raw["version"] = "1"
    save_file({"vqvae.w": torch.ones(2)}, str(tmp_path / "s.distill"), metadata={"distill": json.dumps(raw)})
    with pytest.raises(ModelFileError, match="version must be an integer, got '1'"):
        load_model_file(tmp_path / "s.distill")


def test_save_validates_a_plain_dict(tmp_path: Path):
    bad = {"spectrogram": {}, "model": {"levels": "two"}}
    with pytest.raises(ModelFileError, match="model.levels = 'two' is not allowed: it must be a whole number"):
        save_model_file(tmp_path / "m.distill", bad, {"vqvae": {"w": torch.ones(2)}})
    assert not (tmp_path / "m.distill").exists()
