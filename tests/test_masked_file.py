"""The masked prior in the model file: `train-prior --shape masked`, loading, refusals, and region regeneration."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.config import to_dict
from distill_tui.errors import ModelFileError
from distill_tui.inference.generate import Prior
from distill_tui.inference.masked_sampling import MaskedSampler
from distill_tui.model.masked_prior import MaskedConfig, MaskedPrior
from distill_tui.persistence.model_file import load_model_file, read_doc, save_model_file
from tests.test_generate import attach_prior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def attach_masked(path, window: int = 8, d_model: int = 32, tensors=None, config=None, fingerprint=None) -> None:
    """Add an untrained masked prior (or the given tensors / config / fingerprint) to the model file at `path`."""
    mf = load_model_file(path)
    sizes = mf.document.codebook_sizes
    torch.manual_seed(0)
    cfg = MaskedConfig(levels=len(sizes), codebook_sizes=sizes, window=window, d_model=d_model, layers=1, heads=2)
    doc = mf.doc
    doc["masked_prior"] = {"architecture": "masked", "vqvae_fingerprint": fingerprint or mf.fingerprint,
                           "config": config if config is not None else to_dict(cfg)}
    state = tensors if tensors is not None else MaskedPrior(cfg).state_dict()
    save_model_file(path, doc, {**mf.tensors, "masked": state})


@pytest.fixture(scope="module")
def both(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("masked") / "both.distill"
    attach_prior(tiny_model, path)
    attach_masked(path)
    return path


def test_a_model_file_keeps_its_masked_prior_and_region_regeneration_uses_it(both):
    prior = Prior.from_model_file(both)
    assert isinstance(prior.masked, MaskedSampler) and prior.masked.cfg.window == 8
    doc = read_doc(both)
    assert doc["masked_prior"]["config"]["window"] == 8 and doc["prior"]["architecture"] == "transformer"
    grid = np.random.default_rng(0).integers(0, 4, (prior.levels, 20))
    used = []
    real = prior.masked.candidates
    prior.masked.candidates = lambda *a, **k: used.append(1) or real(*a, **k)
    out = prior.regenerate_region(grid, 5, 15, prior_settings(), candidates=2)
    assert used and np.array_equal(out[:, :5], grid[:, :5]) and np.array_equal(out[:, 15:], grid[:, 15:])


def prior_settings():
    from distill_tui.inference.sampling import SamplingSettings

    return SamplingSettings(seed=2)


def test_an_older_file_without_one_loads_as_before(tiny_model, tmp_path):
    path = tmp_path / "old.distill"
    attach_prior(tiny_model, path)
    assert Prior.from_model_file(path).masked is None
    assert "masked_prior" not in read_doc(path)


@pytest.mark.parametrize("damage", ["missing tensor", "wrong width", "wrong sizes", "other vqvae", "no config"])
def test_a_damaged_masked_prior_is_refused_in_one_line(tiny_model, tmp_path, damage):
    path = tmp_path / "bad.distill"
    attach_prior(tiny_model, path)
    sizes = load_model_file(path).document.codebook_sizes
    good = MaskedPrior(MaskedConfig(levels=len(sizes), codebook_sizes=sizes, window=8, d_model=32, layers=1, heads=2))
    state = dict(good.state_dict())
    kw = {}
    if damage == "missing tensor":
        state.pop("time.weight")
        kw["tensors"] = state
    elif damage == "wrong width":
        kw["tensors"] = MaskedPrior(MaskedConfig(levels=len(sizes), codebook_sizes=sizes, window=8, d_model=16,
                                                 layers=1, heads=2)).state_dict()
    elif damage == "wrong sizes":
        kw["config"] = to_dict(MaskedConfig(levels=len(sizes), codebook_sizes=[s + 1 for s in sizes], window=8))
    elif damage == "other vqvae":
        kw["fingerprint"] = "0123456789abcdef"
    if damage == "no config":
        mf = load_model_file(path)
        doc = mf.doc
        doc["masked_prior"] = {"vqvae_fingerprint": mf.fingerprint}
        with pytest.raises(ModelFileError, match="masked_prior.config") as info:
            save_model_file(path, doc, {**mf.tensors, "masked": state})
    else:
        attach_masked(path, **kw)
        with pytest.raises(ModelFileError) as info:
            Prior.from_model_file(path)
        assert "masked prior" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_truncated_file_with_a_masked_prior_is_refused_in_one_line(both, tmp_path):
    cut = tmp_path / "cut.distill"
    data = both.read_bytes()
    cut.write_bytes(data[: len(data) - 4000])
    with pytest.raises(ModelFileError) as info:
        Prior.from_model_file(cut)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ the command line
def test_train_prior_shape_masked_stores_it_beside_the_causal_prior(tiny_model, dataset, tmp_path, capsys):
    path = tmp_path / "m.distill"
    attach_prior(tiny_model, path)
    before = load_model_file(path)
    code = main(["train-prior", str(path), str(dataset), "--shape", "masked", "--steps", "6", "--context", "8",
                 "--d-model", "32", "--layers", "1", "--quiet", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["architecture"] == "masked" and result["step"] == 6
    after = load_model_file(path)
    assert after.document.masked_prior.config["window"] == 8
    for group in ("vqvae", "prior"):  # the VQ-VAE and the causal prior are left as they were
        assert all(torch.equal(before.tensors[group][k], after.tensors[group][k]) for k in before.tensors[group])
    assert after.document.prior.to_dict() == before.document.prior.to_dict()
    # the editor's and the command line's region regeneration now go through it
    grid = CodeGrid(codes=np.zeros((after.document.model.levels, 24), dtype=np.int64), model_fingerprint=after.fingerprint,
                    codebook_sizes=after.document.codebook_sizes, sample_rate=after.document.sample_rate,
                    hop_length=after.document.spectrogram.hop_length, stride=after.document.model.stride)
    prompt = tmp_path / "p.codes.json"
    prompt.write_text(json.dumps(grid.to_json()))
    code = main(["generate", str(path), "-o", str(tmp_path / "r.wav"), "--prompt", str(prompt), "--region", "4:12",
                 "--seed", "1", "--codes-out", str(tmp_path / "r.codes.json")])
    _, err = capsys.readouterr()
    assert code == 0, err
    regenerated = CodeGrid.load(tmp_path / "r.codes.json").codes
    assert np.array_equal(regenerated[:, :4], grid.codes[:, :4]) and np.array_equal(regenerated[:, 12:], grid.codes[:, 12:])


def test_train_prior_shape_masked_refuses_the_causal_only_architecture(both, tmp_path, capsys):
    path = tmp_path / "x.distill"
    shutil.copyfile(both, path)
    code = main(["train-prior", str(path), "--shape", "masked", "--architecture", "lstm", "--steps", "1"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "--architecture" in err
