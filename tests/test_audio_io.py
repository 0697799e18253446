"""Audio in and out: formats, mixdown, resampling, trimming, normalization, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.audio.io import load_audio, normalize_audio, save_audio, trim
from distill_tui.errors import AudioError, OutputError

from .conftest import SR, synth


@pytest.mark.parametrize("ext,fmt", [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("aiff", "AIFF"), ("mp3", "MP3")])
def test_reads_common_formats(tmp_path, ext, fmt):
    x = synth("pluck", 0.5)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, SR, format=fmt)
    a = load_audio(path, SR)
    assert a.sample_rate == SR
    assert abs(a.seconds - 0.5) < 0.1  # mp3 adds encoder padding
    assert np.abs(a.samples).max() > 0.3


def test_six_channels_mix_to_mono_and_resample(tmp_path):
    x = np.stack([synth("tone", 0.5, sr=48000) * (i + 1) / 6 for i in range(6)], axis=1)
    sf.write(tmp_path / "six.wav", x, 48000)
    a = load_audio(tmp_path / "six.wav", SR)
    assert a.source_channels == 6 and a.source_sample_rate == 48000
    assert a.samples.ndim == 1 and abs(len(a.samples) - SR // 2) <= 2
    expected_rms = np.sqrt(np.mean(x.mean(axis=1) ** 2))
    assert abs(np.sqrt(np.mean(a.samples**2)) - expected_rms) / expected_rms < 0.02


@pytest.mark.parametrize("rate", [8000, 192000])
def test_extreme_rates_resample_to_model_rate(tmp_path, rate):
    sf.write(tmp_path / "x.wav", synth("tone", 0.3, sr=rate), rate)
    a = load_audio(tmp_path / "x.wav", SR)
    spectrum = np.abs(np.fft.rfft(a.samples))
    peak_hz = np.argmax(spectrum) * SR / len(a.samples)
    assert abs(peak_hz - 440) < 10


def test_bad_files_get_one_line_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio\n" * 20)
    sf.write(tmp_path / "zero.wav", np.zeros((0,), dtype=np.float32), SR)
    nan = synth("tone", 0.1)
    nan[10] = np.nan
    sf.write(tmp_path / "nan.wav", nan, SR, subtype="FLOAT")
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3, dtype=np.float32)}, str(tmp_path / "model.bin"))  # a model file by another name
    (tmp_path / "kick.codes.json").write_text('{"format": "distill-codes"}')
    for name, reason in [("empty.wav", "the file is empty"), ("text.wav", "not a readable"), ("zero.wav", "zero length"),
                         ("nan.wav", "NaN"), ("missing.wav", "no such file"),
                         ("model.bin", "a Distill model file, not a sound"),  # was libsndfile's "Format not recognised"
                         ("kick.codes.json", "a JSON file (a codes file?), not a sound")]:
        with pytest.raises(AudioError) as err:
            load_audio(tmp_path / name, SR)
        msg = str(err.value)
        assert name in msg and reason in msg and "\n" not in msg


def test_huge_file_is_read_only_up_to_the_limit(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros(SR * 30, dtype=np.int16) + 100, SR, subtype="PCM_16")
    a = load_audio(tmp_path / "long.wav", SR, max_seconds=2.0)
    assert a.truncated and abs(a.seconds - 2.0) < 0.01 and a.source_seconds == pytest.approx(30.0)


def test_trim_and_normalize():
    x = np.concatenate([np.zeros(SR), synth("tone", 0.5), np.zeros(SR)])
    t = trim(x)
    assert len(t) < 0.6 * SR
    p = normalize_audio(x, "peak")
    assert np.abs(p).max() == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    loud = normalize_audio(x * 0.01, "loudness")
    assert np.abs(loud).max() <= 10 ** (-1 / 20) + 1e-6


@pytest.mark.parametrize("ext,bits,subtype", [("wav", "16", "PCM_16"), ("wav", "24", "PCM_24"), ("wav", "float", "FLOAT"),
                                              ("flac", "16", "PCM_16"), ("flac", "24", "PCM_24")])
def test_save_round_trip(tmp_path, ext, bits, subtype):
    x = synth("pluck", 0.3)
    path = save_audio(tmp_path / f"o.{ext}", x, SR, bits=bits)
    assert sf.info(path).subtype == subtype
    y, sr = sf.read(path, dtype="float32")
    assert sr == SR and np.abs(y - x).max() < (1e-6 if bits == "float" else 2 / 2**15)


def test_save_refuses_bad_targets_and_keeps_old_file(tmp_path):
    path = save_audio(tmp_path / "keep.wav", synth("tone", 0.1), SR)
    before = path.read_bytes()
    with pytest.raises(OutputError):
        save_audio(tmp_path / "no-such-dir" / "x.wav", synth("tone", 0.1), SR)
    with pytest.raises(OutputError):
        save_audio(tmp_path / "x.mp3", synth("tone", 0.1), SR)
    with pytest.raises(OutputError):
        save_audio(tmp_path / "x.flac", synth("tone", 0.1), SR, bits="float")
    assert path.read_bytes() == before


def test_non_finite_samples_are_never_written(tmp_path):
    bad = np.zeros(1000, np.float32)
    bad[10] = np.nan
    for name in ("x.wav", "x.flac"):
        with pytest.raises(OutputError, match="NaN or infinite"):
            save_audio(tmp_path / name, bad, 22050)
    assert list(tmp_path.iterdir()) == []


def _vorbis_in_wav(path, samples, rate, tag=0x674F, channels=1):
    """A WAV file as the old Vorbis ACM codec wrote them (LMMS ships some): format tag `tag`, a 'fact' chunk,
    and a whole Ogg Vorbis stream as the data chunk."""
    import io
    import struct

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="OGG", subtype="VORBIS")
    ogg = buf.getvalue()
    fmt = struct.pack("<HHIIHH", tag, channels, rate, 9000, 1, 16) + struct.pack("<H", 8) + bytes(8)
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, len(samples))
              + b"data" + struct.pack("<I", len(ogg)) + ogg + (b"\0" if len(ogg) & 1 else b""))
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


@pytest.mark.parametrize("tag", [0x674F, 0x6771])
def test_vorbis_inside_a_wav_file_is_read(tmp_path, tag):
    from distill_tui.audio.io import audio_info, read_channels

    x = synth("pluck", 0.6, sr=44100)
    path = _vorbis_in_wav(tmp_path / "kick04.ogg", x, 44100, tag=tag)
    with pytest.raises(sf.LibsndfileError):  # what libsndfile makes of it on its own
        sf.info(str(path))
    a = load_audio(path, 22050)
    assert a.source_sample_rate == 44100 and a.sample_rate == 22050
    assert abs(a.source_seconds - 0.6) < 0.01 and abs(a.seconds - 0.6) < 0.01
    back = load_audio(path)
    assert np.corrcoef(back.samples[: len(x)], x[: len(back.samples)])[0, 1] > 0.98  # the sound, not noise
    assert abs(audio_info(path).duration - 0.6) < 0.01
    data, rate = read_channels(path)
    assert rate == 44100 and data.shape[1] == 1
    assert load_audio(path, 44100, max_seconds=0.1).truncated


def test_other_unreadable_wav_tags_still_get_one_line_errors(tmp_path):
    path = _vorbis_in_wav(tmp_path / "odd.wav", synth("pluck", 0.3), SR, tag=0x1234)
    with pytest.raises(AudioError, match="odd.wav.*not a readable audio file"):
        load_audio(path, SR)


@pytest.mark.skipif(not Path("/usr/share/lmms/samples/drums/kick04.ogg").exists(),
                    reason="needs real audio: apt-get install -y lmms-common")
def test_the_lmms_vorbis_in_wav_kicks_are_read():
    a = load_audio("/usr/share/lmms/samples/drums/kick04.ogg", 44100)
    assert a.source_sample_rate == 44100 and 0.6 < a.seconds < 0.7
    assert np.abs(a.samples).max() > 0.1
