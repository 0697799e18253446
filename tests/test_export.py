"""Export: the biquad against a direct recursion, filter responses, stereo width, fades, formats, codes beside."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest
import soundfile as sf

from distill_tui.audio.export import (
    ExportOptions,
    allpass,
    apply_fades,
    biquad,
    biquad_coefficients,
    codes_path_for,
    export_audio,
    widen,
)
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError, OutputError

SR = 22050


def direct_biquad(x: np.ndarray, b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The textbook recursion, one sample at a time (transposed direct form II)."""
    y = np.zeros_like(x, dtype=np.float64)
    s1 = s2 = 0.0
    for n, v in enumerate(x):
        y[n] = b[0] * v + s1
        s1 = b[1] * v - a[1] * y[n] + s2
        s2 = b[2] * v - a[2] * y[n]
    return y


def sine(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)


def gain_db(kind: str, cutoff: float, freq: float) -> float:
    y = biquad(sine(freq), *biquad_coefficients(kind, cutoff, SR))
    steady = slice(SR // 2, None)  # after the filter has settled
    return 20 * math.log10(np.sqrt(np.mean(y[steady] ** 2)) / np.sqrt(np.mean(sine(freq)[steady] ** 2)))


@pytest.mark.parametrize("n", [1, 100, 256, 257, 3001])
@pytest.mark.parametrize(
    "kind, cutoff", [("lowpass", 200.0), ("lowpass", 10000.0), ("highpass", 20.0), ("highpass", 3000.0)]
)
def test_block_biquad_equals_the_direct_recursion(n, kind, cutoff):
    x = np.random.default_rng(n).standard_normal(n)
    b, a = biquad_coefficients(kind, cutoff, SR)
    assert np.allclose(biquad(x, b, a), direct_biquad(x, b, a), atol=1e-9)
    stereo = np.stack([x, -2 * x], axis=1)
    assert np.allclose(biquad(stereo, b, a)[:, 1], -2 * direct_biquad(x, b, a), atol=1e-9)


def test_gentle_slopes():
    assert gain_db("lowpass", 1000, 100) == pytest.approx(0, abs=0.1)
    assert gain_db("lowpass", 1000, 1000) == pytest.approx(-3.0, abs=0.2)
    assert (
        -27 < gain_db("lowpass", 1000, 4000) < -23
    )  # 12 dB per octave over two octaves (a bit more: bilinear)
    assert gain_db("highpass", 100, 1000) == pytest.approx(0, abs=0.1)
    assert gain_db("highpass", 100, 100) == pytest.approx(-3.0, abs=0.2)
    dc = biquad(np.ones(SR), *biquad_coefficients("highpass", 30, SR))
    assert abs(dc[-100:]).max() < 1e-3


def test_allpass_keeps_the_magnitude_spectrum():
    impulse = np.zeros(1 << 15)
    impulse[0] = 1.0
    response = np.abs(np.fft.rfft(allpass(impulse, 64, 0.5)))
    assert np.allclose(response, 1.0, atol=1e-6)


def test_width_is_mono_compatible_and_decorrelates():
    mono = np.random.default_rng(0).standard_normal(SR)
    same = widen(mono, SR, 0.0)
    assert np.array_equal(same[:, 0], same[:, 1])
    correlations = []
    for width in (0.25, 0.5, 1.0):
        stereo = widen(mono, SR, width)
        assert np.allclose((stereo[:, 0] + stereo[:, 1]) / 2, mono, atol=1e-12)
        correlations.append(np.corrcoef(stereo[:, 0], stereo[:, 1])[0, 1])
    assert correlations[0] > correlations[1] > correlations[2]
    assert abs(correlations[2]) < 0.1


def test_fades_start_and_end_at_zero():
    x = np.ones((SR, 2))
    faded = apply_fades(x, SR, fade_in_ms=10, fade_out_ms=20)
    n_in, n_out = round(0.010 * SR), round(0.020 * SR)
    assert faded[0].tolist() == [0.0, 0.0] and faded[-1].tolist() == [0.0, 0.0]
    assert np.all(np.diff(faded[:n_in, 0]) > 0) and np.all(np.diff(faded[-n_out:, 0]) < 0)
    assert np.array_equal(faded[n_in:-n_out], x[n_in:-n_out])
    assert np.array_equal(apply_fades(x, SR, 0, 0), x)


def test_export_with_every_option(tmp_path):
    rng = np.random.default_rng(1)
    sound = (0.3 * rng.standard_normal(SR) + sine(220)).astype(np.float32)
    options = ExportOptions(bits="float", normalize_db=-1.0, fade_in_ms=5, fade_out_ms=50, highpass_hz=30,
                            lowpass_hz=9000, channels=2, width=0.7)  # fmt: skip
    result = export_audio(tmp_path / "wide.wav", sound, SR, options)
    data, rate = sf.read(result.path, dtype="float32")
    assert rate == SR and data.shape == (SR, 2) and result.channels == 2 and result.frames == SR
    assert np.abs(data).max() == pytest.approx(10 ** (-1 / 20), rel=1e-6)
    assert result.peak_dbfs == pytest.approx(-1.0, abs=1e-4) and result.seconds == pytest.approx(1.0)
    assert np.all(data[0] == 0) and np.all(data[-1] == 0)
    assert not np.array_equal(data[:, 0], data[:, 1])
    assert result.codes_path is None


@pytest.mark.parametrize("name, bits, subtype", [("a.wav", "16", "PCM_16"), ("b.wav", "24", "PCM_24"),
                                                 ("c.flac", "16", "PCM_16"), ("d.flac", "24", "PCM_24")])  # fmt: skip
def test_formats_and_bit_depths(tmp_path, name, bits, subtype):
    sound = sine(440).astype(np.float32)
    result = export_audio(tmp_path / name, sound, SR, ExportOptions(bits=bits))
    info = sf.info(result.path)
    assert info.subtype == subtype and info.channels == 1 and info.frames == len(sound)
    data, _ = sf.read(result.path, dtype="float32")
    assert np.abs(data - sound).max() <= 1 / 32767 + 1e-7  # unchanged by default, to within one 16-bit step


def test_stereo_input_is_mixed_to_mono_first(tmp_path):
    stereo = np.stack([sine(440), sine(440)], axis=1).astype(np.float32)
    result = export_audio(tmp_path / "m.wav", stereo, SR, ExportOptions(bits="float"))
    data, _ = sf.read(result.path, dtype="float32")
    assert data.ndim == 1 and np.allclose(data, stereo[:, 0], atol=1e-7)


def test_codes_are_saved_beside_and_reopen(tmp_path):
    grid = CodeGrid(codes=np.array([[1, 2, 3], [0, 5, 7]]), model_fingerprint="abc123", codebook_sizes=[8, 8],
                    sample_rate=SR, hop_length=256, stride=4, name="wide")  # fmt: skip
    result = export_audio(tmp_path / "wide.flac", sine(440).astype(np.float32), SR, codes=grid)
    assert result.codes_path == tmp_path / "wide.codes.json" == codes_path_for(result.path)
    again = CodeGrid.load(result.codes_path)
    assert np.array_equal(again.codes, grid.codes) and again.model_fingerprint == "abc123"


@pytest.mark.parametrize(
    "options, match",
    [
        (ExportOptions(bits="8"), "bit depth"),
        (ExportOptions(channels=3), "channels"),
        (ExportOptions(channels=2, width=1.5), "width"),
        (ExportOptions(highpass_hz=0), "high-pass cutoff"),
        (ExportOptions(lowpass_hz=20000), "low-pass cutoff"),
        (ExportOptions(highpass_hz=500, lowpass_hz=400), "not below"),
        (ExportOptions(fade_in_ms=600, fade_out_ms=600), "longer than the sound"),
        (ExportOptions(fade_in_ms=-1), "negative"),
        (ExportOptions(normalize_db=3), "normalization"),
    ],
)
def test_bad_options_name_the_file(tmp_path, options, match):
    path = tmp_path / "x.wav"
    with pytest.raises(BadInputError, match=match) as err:
        export_audio(path, sine(440, 1.0).astype(np.float32), SR, options)
    assert str(err.value).startswith(f"{path}: ") and not path.exists()


def test_bad_samples_and_outputs(tmp_path):
    with pytest.raises(BadInputError, match="nothing to export"):
        export_audio(tmp_path / "x.wav", np.zeros(0, np.float32), SR)
    with pytest.raises(BadInputError, match="NaN"):
        export_audio(tmp_path / "x.wav", np.array([0.0, np.nan], np.float32), SR)
    with pytest.raises(OutputError, match="FLAC"):
        export_audio(tmp_path / "x.flac", sine(440).astype(np.float32), SR, ExportOptions(bits="float"))
    with pytest.raises(OutputError, match=".wav or .flac"):
        export_audio(tmp_path / "x.mp3", sine(440).astype(np.float32), SR)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_written_files_get_the_usual_permissions(tmp_path, umask_022):
    """A WAV and its codes file are 0644 under umask 022, as `open()` would make them (not mkstemp's 0600),
    and replacing a file keeps its mode."""
    grid = CodeGrid(codes=np.array([[1, 2, 3], [0, 5, 7]]), model_fingerprint="abc123", codebook_sizes=[8, 8],
                    sample_rate=SR, hop_length=256, stride=4, name="modes")  # fmt: skip
    result = export_audio(tmp_path / "modes.wav", sine(440).astype(np.float32), SR, codes=grid)
    assert result.codes_path is not None
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o644
    assert stat.S_IMODE(result.codes_path.stat().st_mode) == 0o644
    own = grid.save(tmp_path / "own.codes.json")
    assert stat.S_IMODE(own.stat().st_mode) == 0o644
    own.chmod(0o600)
    grid.save(own)
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modes.codes.json", "modes.wav", "own.codes.json"]


def test_samples_that_overflow_while_shaping_are_refused(tmp_path):
    """Issue 16: finite but huge samples became infinite in the widening (and NaN once normalized) and were
    written. Normalized, they are now scaled before float32 could overflow; left as they are, refused."""
    loud = np.full(4000, 3e38, np.float32)
    loud[::2] *= -1
    for name in ("x.wav", "x.flac"):
        path = tmp_path / name
        with pytest.raises(BadInputError, match="NaN or infinite") as err:
            export_audio(path, loud, SR, ExportOptions(channels=2, width=1.0, bits="float" if name.endswith("wav") else "16"))
        assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []
    result = export_audio(tmp_path / "n.wav", loud, SR, ExportOptions(channels=2, width=1.0, normalize_db=-1.0))
    data, _ = sf.read(result.path, dtype="float32")
    assert np.isfinite(data).all() and result.peak_dbfs == pytest.approx(-1.0, abs=0.01)
