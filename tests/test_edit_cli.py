"""`distill-tui edit ...`: each operation writes a new, valid codes file; bad input is refused with the reason."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError

from .conftest import run_cli, synth


@pytest.fixture(scope="module")
def files(tiny_model, tmp_path_factory):
    """A model (copied), two grids of it (A 1.5 s, B 1.0 s), and one grid of another model."""
    from distill_tui.inference.codec import load_codec

    root = tmp_path_factory.mktemp("editcli")
    model = root / "m.distill"
    shutil.copy(tiny_model, model)
    codec = load_codec(model)
    a = codec.encode_samples(synth("pluck", 1.5), name="a")
    b = codec.encode_samples(synth("noise", 1.0, seed=3) + synth("tone", 1.0), name="b")
    alien = CodeGrid(np.zeros_like(a.codes), "0123456789abcdef", a.codebook_sizes, a.sample_rate, a.hop_length, a.stride)
    paths = {"model": model, "a": a.save(root / "a.codes.json"), "b": b.save(root / "b.codes.json"),
             "alien": alien.save(root / "alien.codes.json"), "root": root}
    return paths


def edit(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["edit", *map(str, args), "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 and lines else None, err


def test_reverse_repeat_take_levels_swap_copy(files, capsys, tmp_path):
    a, b = CodeGrid.load(files["a"]), CodeGrid.load(files["b"])
    out = tmp_path / "rev.codes.json"
    code, res, _ = edit(capsys, "reverse", files["a"], "--from", 2, "--to", 8, "--levels", "2", "-o", out)
    assert code == 0 and res["changed_levels"] == [2, 2] and res["changed_positions"] == [2, 8]
    g = CodeGrid.load(out)
    assert g.codes[1, 2:8].tolist() == a.codes[1, 2:8][::-1].tolist() and np.array_equal(g.codes[0], a.codes[0])
    assert g.name == "rev" and g.source["edit"] == "reverse"

    code, res, _ = edit(capsys, "repeat", files["a"], "--from", 0, "--to", 4, "--times", 3, "-o", out := tmp_path / "rep.codes.json")
    g = CodeGrid.load(out)
    assert code == 0 and g.positions == a.positions + 8 and np.array_equal(g.codes[:, 4:8], a.codes[:, 0:4])
    assert g.source["samples"] > a.source["samples"]

    code, res, _ = edit(capsys, "take-levels", files["a"], files["b"], "--levels", "2", "--align", "crop", "-o", out := tmp_path / "take.codes.json")
    g = CodeGrid.load(out)
    assert code == 0 and np.array_equal(g.codes[1, : b.positions], b.codes[1]) and np.array_equal(g.codes[0], a.codes[0])

    other = tmp_path / "b2.codes.json"
    code, res, _ = edit(capsys, "swap", files["a"], files["b"], "--from", "0.1s", "--to", "0.5s", "--other-output", other, "-o", out := tmp_path / "swap.codes.json")
    g, h = CodeGrid.load(out), CodeGrid.load(other)
    p0, p1 = res["changed_positions"]
    assert code == 0 and p1 > p0 and np.array_equal(g.codes[:, p0:p1], b.codes[:, p0:p1])
    assert np.array_equal(h.codes[:, p0:p1], a.codes[:, p0:p1])

    code, res, _ = edit(capsys, "copy", files["a"], files["b"], "--from", 0, "--to", 5, "--at", 10, "-o", out := tmp_path / "copy.codes.json")
    g = CodeGrid.load(out)
    assert code == 0 and np.array_equal(g.codes[:, 10:15], a.codes[:, 0:5]) and g.positions == b.positions


def test_blend_and_randomize_batch_variations(files, capsys, tmp_path):
    out = tmp_path / "blend.codes.json"
    code, res, _ = edit(capsys, "blend", files["a"], files["b"], "--amount", "0.5", "--model", files["model"], "-o", out)
    assert code == 0 and CodeGrid.load(out).positions == CodeGrid.load(files["a"]).positions
    made = []
    for seed in (1, 2, 1):
        path = tmp_path / f"v{len(made)}.codes.json"
        code, _, err = edit(capsys, "randomize", files["a"], "--levels", "2", "--seed", seed, "-o", path)
        assert code == 0, err
        made.append(CodeGrid.load(path).codes)
    assert np.array_equal(made[0], made[2]) and not np.array_equal(made[0], made[1])
    for mode in ("usage", "nearest"):
        code, _, err = edit(capsys, "randomize", files["a"], "--mode", mode, "--model", files["model"], "--seed", 0, "-o", tmp_path / f"{mode}.codes.json")
        assert code == 0, err
        CodeGrid.load(tmp_path / f"{mode}.codes.json")


def test_bad_input_is_refused_with_the_reason(files, capsys, tmp_path):
    out = tmp_path / "x.codes.json"
    code, _, err = edit(capsys, "reverse", files["a"], "-o", files["a"])
    assert code == 2 and "overwrite an input" in err
    code, _, err = edit(capsys, "take-levels", files["a"], files["alien"], "--levels", "2", "-o", out)
    assert code == 2 and "0123456789abcdef" in err and CodeGrid.load(files["a"]).model_fingerprint in err
    code, _, err = edit(capsys, "reverse", files["a"], "--levels", "7", "-o", out)
    assert code == 2 and "levels 1..2" in err
    code, _, err = edit(capsys, "reverse", files["a"], "--from", "x", "-o", out)
    assert code == 2 and "not a position" in err
    (tmp_path / "alone").mkdir()
    alone = shutil.copy(files["a"], tmp_path / "alone" / "a.codes.json")  # its model is neither beside it nor named
    code, _, err = edit(capsys, "randomize", alone, "--mode", "usage", "-o", out)
    assert code == 2 and "--model" in err
    bad = tmp_path / "bad.codes.json"
    doc = json.loads(files["a"].read_text())
    doc["codes"][0][0] = 999
    bad.write_text(json.dumps(doc))
    code, _, err = edit(capsys, "reverse", bad, "-o", out)
    assert code == 2 and "outside its codebook" in err and str(bad) in err
    code, _, err = edit(capsys, "blend", files["alien"], files["b"], "--model", files["model"], "-o", out)
    assert code == 2 and "another model" in err
    # grids longer than anything decodes: refused before they are made (repeat printed nothing and tried to write
    # a huge file; continue failed on a 321 GiB allocation)
    code, _, err = edit(capsys, "repeat", files["a"], "--times", "10000000", "-o", out)
    assert code == 2 and "minutes Distill decodes" in err
    # and said the most that fits: 1e20 times read "the result would be 541798941798941824.0 minutes long"
    a = CodeGrid.load(files["a"])
    most = 1 + a.room() // a.positions
    code, _, err = edit(capsys, "repeat", files["a"], "--times", "99999999999999999999", "-o", out)
    assert code == 2 and f"--times 99999999999999999999 is more than fits: at most {most} in the 10 minutes" in err
    assert edit(capsys, "repeat", files["a"], "--times", str(most), "-o", out)[0] == 0
    out.unlink()
    code, _, err = edit(capsys, "continue", files["a"], "--model", files["model"], "--to", "1e9s", "-o", out)
    assert code == 2 and "minutes Distill decodes" in err
    # found by hand: `continue --to 600s` said "the result would be 10.0 minutes long, over the 10 minutes": 600 s is
    # a fraction of a column more in whole columns, and those pass
    grid = CodeGrid.load(files["a"])
    most = math.ceil(600.0 / grid.seconds_per_position - 1e-9)
    grid.check_growth(most)
    with pytest.raises(BadInputError, match=r"would be 600\.\d\d s long, over the 10 minutes Distill decodes"):
        grid.check_growth(most + 1)
    # found by scripted runs: a negative --from was taken, "infs" and a negative --seed were Python errors (exit 1),
    # and --k 0 was taken
    for args, said in ((["reverse", files["a"], "--from", "-3"], "count from 0"),
                       (["reverse", files["a"], "--from", "infs"], "not a position or a time"),
                       (["randomize", files["a"], "--seed", "-5"], "seed must be a whole number from 0"),
                       # an empty range was "empty range: --from 65 --to 43" for --from 3s --to 2s, and a start
                       # past the end the same, in positions the user never typed
                       (["reverse", files["a"], "--from", "0.3s", "--to", "0.2s"],
                        "--to 0.2s (position "),
                       (["reverse", files["a"], "--from", "100s"], "is past the end of the grid: it has "),
                       (["reverse", files["a"], "--to", "0"], "--to 0 must come after the grid's start"),
                       (["randomize", files["a"], "--mode", "nearest", "--k", "0", "--model", files["model"]],
                        "--k must be at least 1")):
        code, _, err = edit(capsys, *args, "-o", out)
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and said in err, (args, err)
    assert not out.exists()


# ---- with a real prior (trained for a few steps: it only has to run)


@pytest.fixture(scope="module")
def prior_model(files):
    path = files["root"] / "p.distill"
    shutil.copy(files["model"], path)
    r = run_cli("train-prior", str(path), "--steps", "3", "--context", "8", "--layers", "1", "--d-model", "32", "--quiet")
    assert r.returncode == 0, r.stderr
    return path


def test_regenerate_and_continue_with_the_real_prior(files, prior_model, capsys, tmp_path):
    from distill_tui.codes import edits as E
    from distill_tui.codes.selection import Selection
    from distill_tui.inference.generate import Prior, SamplingSettings

    a = CodeGrid.load(files["a"])
    out = tmp_path / "r.codes.json"
    code, res, err = edit(capsys, "regenerate", files["a"], "--model", prior_model, "--from", 3, "--to", 9, "--levels", "2",
                          "--seed", 4, "--temperature", "0.9", "--top-k", 8, "-o", out)
    assert code == 0, err
    g = CodeGrid.load(out)
    assert np.array_equal(g.codes[0], a.codes[0]) and np.array_equal(g.codes[1, 9:], a.codes[1, 9:])
    code, res, err = edit(capsys, "continue", files["a"], "--model", prior_model, "--to", a.positions + 6, "--seed", 1, "-o", out := tmp_path / "c.codes.json")
    assert code == 0, err
    g = CodeGrid.load(out)
    assert g.positions == a.positions + 6 and np.array_equal(g.codes[:, : a.positions], a.codes)

    prior = Prior.from_model_file(prior_model)
    h = a.copy()
    e = E.Regenerate(selection=Selection(0, None, 2, 6), prior=prior, settings=SamplingSettings(seed=2))
    e.do(h)
    after = h.codes.copy()
    e.undo(h)
    assert np.array_equal(h.codes, a.codes)
    e.do(h)
    assert np.array_equal(h.codes, after)
    code, _, err = edit(capsys, "regenerate", files["a"], "--model", files["model"], "-o", tmp_path / "n.codes.json")
    assert code == 2 and "no prior" in err


def test_the_model_an_edit_needs_is_found_when_not_given(files, capsys, tmp_path, monkeypatch):
    """`edit blend A B -o OUT` said "the following arguments are required: --model" though A names its model's
    fingerprint, and the model was beside it. Without --model the model that made A is used (the file A names,
    or one beside it); when none is found the error says so."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bl.codes.json"
    code, res, err = edit(capsys, "blend", files["a"], files["b"], "--amount", "0.5", "-o", out)
    assert code == 0, err
    assert CodeGrid.load(out).source["model_file"] == str(files["model"])  # what it used, for play and open
    code, res, err = edit(capsys, "randomize", files["a"], "--mode", "nearest", "--seed", 1, "-o", tmp_path / "r.codes.json")
    assert code == 0, err
    alone = tmp_path / "alone"
    alone.mkdir()
    moved = shutil.copy(files["a"], alone / "a.codes.json")  # no model beside it, none named in it
    code, _, err = edit(capsys, "blend", moved, files["b"], "-o", tmp_path / "bl2.codes.json")
    fingerprint = CodeGrid.load(files["a"]).model_fingerprint
    assert code == 2 and err.strip() == (f"error: {moved}: blend needs --model MODEL (no model with fingerprint "
                                         f"{fingerprint} is beside it or in the current folder)")
