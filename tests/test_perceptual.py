"""Per-code perceptual data: computed once, cached in the model file, stable, and useful to the editor."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from distill_tui.analysis import perceptual as P
from distill_tui.codes import edits as E
from distill_tui.codes.selection import Selection
from distill_tui.errors import OutputError
from distill_tui.persistence.model_file import load_model_file


@pytest.fixture()
def model(tiny_model, tmp_path):
    path = tmp_path / "m.distill"
    shutil.copy(tiny_model, path)
    return path


def test_computed_once_cached_in_the_model_file_and_stable(model):
    before = load_model_file(model)
    first = P.load_perceptual(model)
    assert first.cached and first.note == ""
    after = load_model_file(model)
    assert after.fingerprint == before.fingerprint  # the weights' hash is untouched
    assert set(after.tensors) == set(before.tensors) | {"perceptual"}
    assert after.doc["perceptual"]["version"] == P.VERSION
    for name, t in before.group("vqvae").items():
        assert np.array_equal(after.group("vqvae")[name].numpy(), t.numpy())
    second = P.load_perceptual(model)  # from the cache
    recomputed = P.compute_perceptual(_codec(model), after.doc)
    for x, y, z in zip(first.levels, second.levels, recomputed.levels, strict=True):
        assert np.array_equal(x.order, y.order) and np.array_equal(x.order, z.order)
        assert x.descriptions == y.descriptions == z.descriptions and x.label == y.label
        assert np.allclose(x.centroid_hz, y.centroid_hz)


def _codec(path):
    from distill_tui.inference.codec import load_codec

    return load_codec(path)


def test_per_code_data_has_the_right_shapes_and_meaning(model):
    data = P.load_perceptual(model)
    doc = load_model_file(model).doc
    sizes = doc["model"]["codebook_sizes"]
    assert len(data.levels) == len(sizes) == len(data.typical) == len(data.labels)
    for q, (lv, k) in enumerate(zip(data.levels, sizes, strict=True)):
        assert sorted(lv.order.tolist()) == list(range(k))  # a permutation
        assert np.all(np.diff(lv.score[lv.order]) >= 0)  # sorted by score
        assert lv.usage.tolist() == doc["health"]["counts"][q][:k]
        assert data.typical[q] == int(np.argmax(lv.usage))
        assert len(lv.descriptions) == k and all(d.count(" · ") == 2 for d in lv.descriptions)
        assert all(d.split(" · ")[0] in P.BRIGHTNESS for d in lv.descriptions)
        assert (lv.flatness >= 0).all() and (lv.flatness <= 1.0001).all()
        assert 0.0 <= lv.colour_position(int(lv.order[-1])) == 1.0
    assert data.labels[int(np.argmax(doc["health"]["level_gain_db"]))] == "Structure"
    assert all(lv.reason for lv in data.levels)


def test_the_order_means_brighter_or_louder():
    centroid = np.array([100.0, 800.0, 3000.0, 400.0])
    energy = np.array([-40.0, -30.0, -10.0, -35.0])
    score = P.perceptual_score(centroid, energy)
    assert np.argsort(score).tolist() == [0, 3, 1, 2]
    words = P.describe_codes(centroid, energy, np.array([0.9, 0.1, 0.5, 0.2]))
    assert words[2] == "bright · loud · grainy" and words[0] == "dark · soft · noisy"


def test_level_labels_follow_what_each_level_adds():
    spreads = [{"loudness": 10.0, "brightness": 0.5, "noisiness": 0.1},
               {"loudness": 1.0, "brightness": 1.5, "noisiness": 0.1},
               {"loudness": 0.5, "brightness": 0.1, "noisiness": 0.2},
               {"loudness": 0.1, "brightness": 0.1, "noisiness": 0.1}]
    labels = [label for label, _ in P.level_labels([5.0, 2.0, 1.0, 0.1], spreads)]
    assert labels == ["Structure", "Timbre", "Texture", "Detail"]
    labels = [label for label, _ in P.level_labels([5.0, 0.01, 0.01], spreads[:3])]
    assert labels == ["Structure", "Detail", "Detail 2"]


def test_a_read_only_model_keeps_the_data_in_memory_and_says_so(model, monkeypatch):
    def refuse(*args, **kwargs):
        raise OutputError("permission denied", model)

    monkeypatch.setattr(P, "save_model_file", refuse)
    monkeypatch.setattr(P, "_MEMORY", {})
    data = P.load_perceptual(model)
    assert not data.cached and "kept in memory" in data.note
    assert "perceptual" not in load_model_file(model).doc
    assert P.load_perceptual(model) is data  # not recomputed


def test_previews_and_nudging_on_the_real_model(model):
    codec = _codec(model)
    data = P.load_perceptual(model, codec)
    previews = P.CodePreviews(codec, data, positions=8)
    audio = previews.get(0, int(data.levels[0].order[-1]))
    expect = (8 * codec.cfg.stride - 1) * codec.spec.hop_length
    assert audio.shape == (expect,) and np.isfinite(audio).all() and abs(audio[0]) < 1e-3 and abs(audio[-1]) < 1e-3
    assert previews.get(0, int(data.levels[0].order[-1])) is audio  # cached
    grid = codec.encode_file(_write_sound(model.parent))
    lo = int(data.levels[0].order[0])
    E.Fill(selection=Selection.level(0), code=lo).do(grid)
    E.Nudge(selection=Selection.level(0), step=1, order=data.order).do(grid)
    assert (grid.codes[0] == data.levels[0].order[1]).all()


def _write_sound(folder):
    import soundfile as sf

    from .conftest import SR, synth

    path = folder / "pluck.wav"
    sf.write(path, synth("pluck", 0.5), SR)
    return path
