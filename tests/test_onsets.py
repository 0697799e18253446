"""Spectral-flux onsets and the onset error between an original and a decode (analysis/onsets.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.analysis.evaluate import FileScore, onset_groups
from distill_tui.analysis.onsets import SHARP, OnsetError, detect_onsets, match_onsets, onset_error
from distill_tui.cli import main

from .conftest import synth

SR = 44100
LMMS = Path("/usr/share/lmms/samples")  # Debian's lmms-common: real recordings (bench/corpus.py)


def drum(at_s: list[float], seconds: float = 2.0, sr: int = SR, attack_s: float = 0.0, seed: int = 0) -> np.ndarray:
    """Drum-like hits at `at_s`: a noise burst and a 60 Hz thump, each decaying in ~60 ms, with an attack ramp
    of `attack_s` (0: instant)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * sr), dtype=np.float32)
    n = int(0.4 * sr)
    t = np.arange(n) / sr
    for start in at_s:
        env = np.exp(-t / 0.06)
        if attack_s > 0:
            env *= np.clip(t / attack_s, 0, 1)
        hit = env * (0.6 * rng.standard_normal(n) + 0.8 * np.sin(2 * np.pi * 60 * t))
        i = int(start * sr)
        x[i : i + n] += hit[: len(x) - i].astype(np.float32)
    return x / np.abs(x).max() * 0.9


BEAT = [0.1, 0.35, 0.6, 0.85, 1.1, 1.35, 1.6]


def test_finds_each_hit_once() -> None:
    found = detect_onsets(drum(BEAT), SR)
    assert len(found) == len(BEAT)
    assert np.all(np.abs(found - np.array(BEAT)) < 0.03)  # the flux peaks a little before each attack


def test_a_12_ms_shift_measures_12_ms() -> None:
    x = drum(BEAT)
    shifted = np.concatenate([np.zeros(int(0.012 * SR), np.float32), x])[: len(x)]
    err = onset_error(x, shifted, SR)
    assert isinstance(err, OnsetError)
    assert err.median_ms == pytest.approx(12.0, abs=2.0)
    assert err.mean_signed_ms == pytest.approx(12.0, abs=2.0)  # the decode comes late
    assert err.hits == 1.0 and err.matched == err.original == err.decoded == len(BEAT)


def test_same_at_22050_and_at_another_level() -> None:
    x = drum(BEAT, sr=22050)
    err = onset_error(x, 0.1 * x, 22050)
    assert err.median_ms == pytest.approx(0.0, abs=0.5) and err.hits == 1.0


def test_a_smeared_attack_raises_the_error() -> None:
    sharp = drum(BEAT, seed=1)
    exact = onset_error(sharp, drum(BEAT, seed=2), SR)  # other noise, same attacks
    smeared = onset_error(sharp, drum(BEAT, seed=2, attack_s=0.03), SR)  # 30 ms ramps
    assert exact.median_ms is not None and smeared.median_ms is not None
    assert exact.median_ms < 2.0
    assert smeared.median_ms > exact.median_ms + 4.0


def test_silence_has_no_onsets() -> None:
    silent = np.zeros(SR, dtype=np.float32)
    assert len(detect_onsets(silent, SR)) == 0
    assert len(detect_onsets(np.zeros(0, dtype=np.float32), SR)) == 0
    err = onset_error(silent, silent, SR)
    assert err.median_ms is None and err.hits == 0.0 and err.original == err.decoded == 0
    err = onset_error(drum(BEAT), silent, SR)  # a decode that lost everything
    assert err.median_ms is None and err.hits == 0.0 and err.original == len(BEAT)


def test_a_steady_tone_has_at_most_its_start() -> None:
    t = np.arange(2 * SR) / SR
    assert len(detect_onsets((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)) <= 1


def test_matching_is_one_to_one_within_the_tolerance() -> None:
    pairs = match_onsets(np.array([0.10, 0.11, 0.50]), np.array([0.105, 0.58]), tolerance_s=0.05)
    assert pairs == [(0.10, 0.105)]  # 0.11 finds 0.105 taken; 0.50 is 80 ms from 0.58


def test_eval_reports_onsets_of_loops_and_one_shots(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """`eval` gives each file with onsets its onset error, and the medians over loops and one-shots."""
    sf.write(tmp_path / "loop.wav", drum(BEAT, sr=22050), 22050)
    sf.write(tmp_path / "hit.wav", drum([0.05], seconds=0.5), SR)
    sf.write(tmp_path / "quiet.wav", np.zeros(SR // 2, dtype=np.float32) + 1e-7, SR)
    sf.write(tmp_path / "pad.wav", synth("pad", 0.8), 22050)
    assert main(["eval", str(tiny_model), str(tmp_path), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {Path(r["path"]).name: r for r in ev["per_file"]}
    assert rows["loop.wav"]["onsets"] == len(BEAT) and rows["hit.wav"]["onsets"] == 1
    for name in ("loop.wav", "hit.wav"):
        assert 0 <= rows[name]["onset_hits"] <= 1 and (rows[name]["onset_ms"] is None or rows[name]["onset_ms"] >= 0)
    assert "onset_ms" not in rows.get("quiet.wav", {})  # silence has no onsets: no figure, no crash
    loops, one_shots = ev["onsets"]["loops"], ev["onsets"]["one_shots"]
    assert loops["files"] >= 1 and one_shots["files"] >= 1 and "4 or more onsets" in ev["onsets"]["rule"]
    if rows["loop.wav"]["onset_ms"] is not None and loops["files"] == 1:
        assert loops["median_ms"] == rows["loop.wav"]["onset_ms"]
    assert main(["eval", str(tiny_model), str(tmp_path)]) == 0
    assert "timing, loops" in capsys.readouterr().out


def test_drum_hits_are_sharp_and_a_smooth_tone_has_none() -> None:
    err = onset_error(drum(BEAT), drum(BEAT, seed=3), SR)
    assert err.sharpness is not None and err.sharpness >= SHARP
    assert onset_error(np.zeros(SR, dtype=np.float32), drum(BEAT), SR).sharpness is None  # silence: no onsets


@pytest.mark.skipif(not LMMS.exists(), reason="needs real audio: apt-get install -y lmms-common")
def test_real_pads_swell_and_real_drum_loops_attack() -> None:
    """pads-drums-50's eval counted pads and strings whose swells read as 5-100 onsets as "loops" (4 or more onsets),
    and their 10-23 ms put the loops' median at 10.7 ms where its drum loops read 1.4-4.2 ms."""
    import soundfile as sf

    def original(name: str) -> OnsetError:
        x, sr = sf.read(LMMS / name, dtype="float32", always_2d=True)
        return onset_error(x.mean(axis=1), x.mean(axis=1), sr)

    loops = {name: original(f"beats/{name}") for name in ("909beat01.ogg", "break01.ogg", "jungle01.ogg")}
    pads = {name: original(f"stringsnpads/{name}") for name in ("bell_choir02.ogg", "space_strings01.ogg", "chorus02.ogg")}
    assert all(e.original >= 4 and e.sharpness >= 2 * SHARP for e in loops.values()), loops
    assert all(e.original >= 4 and e.sharpness < SHARP / 2 for e in pads.values()), pads

    def scored(name: str, err: OnsetError) -> FileScore:
        return FileScore(name, SR, SR, None, None, onsets=err)  # type: ignore[arg-type] - the groups read onsets only

    groups = onset_groups([scored(n, e) for n, e in {**loops, **pads}.items()])
    assert sorted(f.path for f in groups["loops"]) == sorted(loops)
    assert sorted(f.path for f in groups["swells"]) == sorted(pads) and not groups["one_shots"]
