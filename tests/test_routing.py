"""Routing decisions (PortAudio missing, no device, SSH with and without a listener), the local player with a
fake sounddevice, and `distill-tui play` on audio files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.cli import main
from distill_tui.errors import BadInputError
from distill_tui.playback import local
from distill_tui.playback.local import Mixer, PlaybackUnavailable, Player
from distill_tui.playback.remote import Listener
from distill_tui.playback.routing import (
    HOW_TO_HEAR_LOCALLY,
    HOW_TO_LISTEN,
    Router,
    decide_route,
    listener_config,
    parse_address,
)

SR = 22050
TOKEN = "routing-token-0123456789"


# ---- fakes ---------------------------------------------------------------------------------------


class FakeStream:
    """Records what the player asked of PortAudio; tests drive `callback` by hand."""

    fail = False

    def __init__(self, *, samplerate, channels, dtype, latency, callback):
        if FakeStream.fail:
            raise RuntimeError("Error opening OutputStream: Device unavailable")
        self.samplerate, self.channels, self.dtype, self.callback = samplerate, channels, dtype, callback
        self.latency = 0.0
        self.started = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True

    def pull(self, frames: int) -> np.ndarray:
        out = np.full((frames, self.channels), np.nan, dtype=np.float32)
        self.callback(out, frames, None, None)
        return out


def fake_sounddevice(has_device: bool = True, channels: int = 2) -> types.ModuleType:
    mod = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    def query_devices(kind=None):
        if not has_device:
            raise PortAudioError("Error querying device -1")
        return {"name": "fake", "max_output_channels": channels, "default_samplerate": 48000.0}

    mod.PortAudioError = PortAudioError
    mod.query_devices = query_devices
    mod.OutputStream = FakeStream
    return mod


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """An environment with no SSH, no listener, no config file; returns it (a dict)."""
    for name in (
        "SSH_CONNECTION",
        "SSH_CLIENT",
        "SSH_TTY",
        "DISTILL_LISTEN",
        "DISTILL_LISTEN_TOKEN",
        "DISTILL_PLAYBACK",
    ):
        monkeypatch.delenv(name, raising=False)
    return {"DISTILL_CONFIG": str(tmp_path / "absent.toml"), "DISTILL_PLAY_DIR": str(tmp_path / "played")}


@pytest.fixture
def portaudio_missing(tmp_path, monkeypatch):
    """`import sounddevice` fails the way it does without the PortAudio library: OSError."""
    fake_dir = tmp_path / "fake_site"
    fake_dir.mkdir()
    (fake_dir / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.syspath_prepend(str(fake_dir))


@pytest.fixture
def listener():
    """A real listener on loopback in a thread; yields (listener, events, stops)."""
    events, stops = [], []
    server = Listener(
        TOKEN, port=0, on_event=events.append, on_stop=lambda: stops.append(1), log=lambda s: None
    )
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, events, stops
    server.close()
    thread.join(timeout=5)


def tone(seconds: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


# ---- decisions -----------------------------------------------------------------------------------


def test_portaudio_missing_writes_a_wav_and_says_how_to_listen_once(no_config, portaudio_missing):
    assert f"PortAudio library is missing: install it ({local.portaudio_install()})" in local.probe()
    router = Router(no_config)
    assert router.decision.route == "file" and not router.decision.over_ssh
    first = router.play(tone(), SR, name="pluck.wav")
    assert first.route == "file" and first.path is not None and first.path.exists()
    assert "PortAudio library is missing" in first.message and HOW_TO_HEAR_LOCALLY in first.message
    assert "ssh -R" not in first.message  # a local session: the recipe for a remote box is not the answer
    assert np.allclose(sf.read(first.path, dtype="float32")[0], tone())
    second = router.play(tone(), SR, name="pluck.wav")
    assert second.route == "file" and HOW_TO_HEAR_LOCALLY not in second.message and second.path != first.path
    assert router.notice() is None


def test_sounddevice_not_installed(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert "sounddevice is not installed" in local.probe()
    decision = decide_route(no_config)
    assert decision.route == "file" and "not installed" in decision.reason


def test_no_output_device(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(has_device=False))
    decision = decide_route(no_config)
    assert decision.route == "file" and "no audio output device" in decision.reason
    router = Router(no_config)
    assert "no audio output device" in router.notice() and router.notice() is None


def test_local_device_is_used_in_a_local_session(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())
    router = Router(no_config)
    result = router.play(tone(), SR, name="pad.wav")
    assert result.route == "local" and result.path is None and result.first_sample_s is not None
    stream = router.player._stream
    assert stream.started and stream.samplerate == SR and stream.channels == 2
    block = stream.pull(512)
    assert np.isfinite(block).all() and np.array_equal(block[:, 0], block[:, 1])  # mono on both speakers
    assert router.position == pytest.approx(512 / SR)
    router.stop()
    stream.pull(512)
    assert not router.player.is_playing and router.position is None
    router.close()
    assert stream.closed


def test_ssh_without_a_listener_skips_the_remote_speakers(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())  # the GPU box even has a device
    env = {**no_config, "SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}
    router = Router(env)
    assert router.decision.route == "file" and router.decision.over_ssh
    result = router.play(tone(), SR)
    assert (
        result.route == "file" and "SSH session" in result.message and "distill-tui listen" in result.message
    )
    assert router.player is None  # the remote box's speakers were never opened
    assert HOW_TO_LISTEN not in router.play(tone(), SR).message


def test_ssh_with_a_listener_sends_there(no_config, listener, monkeypatch):
    server, events, stops = listener
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())
    env = {
        **no_config,
        "SSH_CLIENT": "10.0.0.2 50000 22",
        "DISTILL_LISTEN": f"127.0.0.1:{server.port}",
        "DISTILL_LISTEN_TOKEN": TOKEN,
    }
    router = Router(env)
    assert router.decision.route == "listener" and router.notice() is None
    samples = tone(1.0)
    result = router.play(samples, SR, name="kick.wav")
    assert result.route == "listener" and f"127.0.0.1:{server.port}" in result.message
    assert 0 < result.first_sample_s < 1.0
    assert np.array_equal(events[0].clip.samples[:, 0], samples) and events[0].clip.name == "kick.wav"
    assert router.position is not None
    router.play(samples, SR, loop_region=(0.25, 0.5))
    assert events[1].clip.loop and len(events[1].clip.samples) == int(0.5 * SR) - int(0.25 * SR)
    assert 0.249 <= router.position < 0.5
    router.stop()
    assert stops == [1] and router.position is None


def test_listener_configured_but_unreachable_falls_back_to_a_file(no_config, portaudio_missing):
    env = {**no_config, "DISTILL_LISTEN": "127.0.0.1:9", "DISTILL_LISTEN_TOKEN": TOKEN}
    router = Router(env)
    router._sender_for(router.decision.listener).backoff_s = 0.01
    result = router.play(tone(), SR)
    assert result.route == "file" and result.path.exists()
    assert "no listener answered at 127.0.0.1:9" in result.message


def test_wrong_token_falls_back_to_a_file_and_says_so(no_config, listener, portaudio_missing):
    server, events, _ = listener
    env = {**no_config, "DISTILL_LISTEN": f"127.0.0.1:{server.port}", "DISTILL_LISTEN_TOKEN": "wrong-token"}
    result = Router(env).play(tone(), SR)
    assert result.route == "file" and "refused the token: wrong token" in result.message and not events


def test_device_failing_at_play_time_falls_back(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())
    monkeypatch.setattr(FakeStream, "fail", True)
    router = Router(no_config)
    result = router.play(tone(), SR)
    assert result.route == "file" and "could not open the audio output" in result.message
    assert router.decision.route == "file"


def test_file_route_shows_an_existing_source_instead_of_rewriting_it(no_config, portaudio_missing, tmp_path):
    source = tmp_path / "mine.wav"
    sf.write(source, tone(), SR)
    result = Router(no_config).play(tone(), SR, source_path=source)
    assert result.path == source.resolve() and str(source.resolve()) in result.message
    assert not Path(no_config["DISTILL_PLAY_DIR"]).exists()


def test_config_file_and_environment(no_config, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[listen]\naddress = "127.0.0.1:5000"\ntoken = "from-file"\n')
    env = {**no_config, "DISTILL_CONFIG": str(config)}
    found = listener_config(env)
    assert (found.host, found.port, found.token, found.source) == (
        "127.0.0.1",
        5000,
        "from-file",
        str(config),
    )
    env_wins = listener_config({**env, "DISTILL_LISTEN": "6000", "DISTILL_LISTEN_TOKEN": "t"})
    assert (env_wins.port, env_wins.token, env_wins.source) == (6000, "t", "environment")
    assert decide_route({**env, "SSH_TTY": "/dev/pts/1"}).route == "listener"
    config.write_text('[listen]\naddress = "127.0.0.1:5000"\n')
    with pytest.raises(BadInputError, match="no token"):
        listener_config(env)
    config.write_text("[listen\n")
    with pytest.raises(BadInputError, match="cannot read the config file"):
        listener_config(env)
    assert listener_config(no_config) is None
    with pytest.raises(BadInputError, match="1..255 bytes"):
        listener_config({**no_config, "DISTILL_LISTEN": "7000", "DISTILL_LISTEN_TOKEN": "x" * 256})


def test_forced_routes(no_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())
    assert decide_route({**no_config, "DISTILL_PLAYBACK": "file"}).route == "file"
    ssh_local = {**no_config, "SSH_CONNECTION": "a b c d", "DISTILL_PLAYBACK": "local"}
    assert decide_route(ssh_local).route == "local"
    with pytest.raises(BadInputError, match="no listener is set"):
        decide_route({**no_config, "DISTILL_PLAYBACK": "listener"})
    with pytest.raises(BadInputError, match="DISTILL_PLAYBACK='speakers'"):
        decide_route({**no_config, "DISTILL_PLAYBACK": "speakers"})


@pytest.mark.parametrize(
    "text, expected",
    [("127.0.0.1:47474", ("127.0.0.1", 47474)), ("47474", ("127.0.0.1", 47474)), (":8000", ("127.0.0.1", 8000)),
     ("[::1]:8000", ("::1", 8000)), ("localhost:1", ("localhost", 1))],
)  # fmt: skip
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host", "host:", "a:b:c", "1.2.3.4:12x"])
def test_parse_address_refuses(text):
    with pytest.raises(BadInputError, match="is not host:port"):
        parse_address(text)


def test_a_port_out_of_range_is_named_with_the_file_it_came_from(tmp_path):
    """`address = "localhost:99999"` in config.toml said "[listen] address='localhost:99999' is not host:port":
    it is host:port; the port is what is wrong, and the file was not named."""
    with pytest.raises(BadInputError, match=r"DISTILL_LISTEN='host:0': port 0 is not one \(ports are 1 to 65535\)"):
        parse_address("host:0")
    config = tmp_path / "config.toml"
    config.write_text('[listen]\naddress = "localhost:99999"\ntoken = "abcdefabcdefabcdef"\n')
    with pytest.raises(BadInputError) as info:
        listener_config({}, config)
    assert str(info.value) == f"{config}: [listen] address='localhost:99999': port 99999 is not one (ports are 1 to 65535)"


# ---- the local player's mixer: fades, cancel, loop, position -------------------------------------


def test_fade_in_and_natural_end_do_not_click():
    mixer = Mixer(1000, 1, fade_s=0.01)  # 10-frame fades
    mixer.add(np.ones(100, np.float32))
    out = np.zeros((120, 1), np.float32)
    mixer.render(out)
    assert out[0, 0] == pytest.approx(0.1) and out[9, 0] == pytest.approx(1.0)
    assert np.abs(np.diff(out[:, 0])).max() <= 0.1 + 1e-6
    assert out[99, 0] == 0.0 and not mixer.active


def test_new_play_cancels_the_old_with_a_crossfade():
    mixer = Mixer(1000, 2, fade_s=0.01)
    mixer.add(np.ones(1000, np.float32))
    first = np.zeros((50, 2), np.float32)
    mixer.render(first)
    mixer.add(-np.ones(1000, np.float32))
    second = np.zeros((50, 2), np.float32)
    mixer.render(second)
    joined = np.concatenate([first, second])[:, 0]
    assert np.abs(np.diff(joined[20:])).max() <= 0.2 + 1e-6  # two 10-frame ramps at once: no jump
    assert second[-1, 0] == pytest.approx(-1.0) and len(mixer._voices) == 1
    assert mixer.position() == pytest.approx(0.05)


def test_stop_fades_out_then_goes_silent():
    mixer = Mixer(1000, 1, fade_s=0.01)
    mixer.add(np.ones(1000, np.float32))
    mixer.render(np.zeros((30, 1), np.float32))
    mixer.stop()
    out = np.zeros((30, 1), np.float32)
    mixer.render(out)
    assert out[0, 0] == pytest.approx(0.9) and out[9:, 0].max() == 0.0 and not mixer.active
    assert mixer.position() is None


def test_loop_region_wraps_without_a_click_and_the_position_follows():
    sr = 1000
    ramp = (np.arange(2000) / 2000).astype(
        np.float32
    )  # a hard wrap from 0.7 s back to 0.5 s would jump by 0.1
    mixer = Mixer(sr, 1, fade_s=0.01)
    mixer.add(ramp, loop_region=(0.5, 0.7))
    out = np.zeros((1000, 1), np.float32)
    mixer.render(out)
    steps = np.abs(np.diff(out[20:, 0]))
    assert mixer.active and steps.max() < 0.02  # the seam is crossfaded over 10 frames
    assert out[20:, 0].min() >= 0.24 and out[20:, 0].max() <= 0.35  # only the region's samples play
    assert 0.5 <= mixer.position() < 0.7


def test_player_resamples_later_clips_and_waits(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(channels=1))
    player = Player()
    player.play(tone(0.1), SR)
    stream = player._stream
    assert stream.channels == 1
    player.play(tone(0.1, 44100), 44100)  # resampled to the open stream's 22050 Hz
    assert abs(len(player._mixer._voices[-1].buffer) - int(0.1 * SR)) <= 2
    while player.is_playing:
        stream.pull(1024)
    assert player.wait(timeout=0)
    player.close()


def test_player_without_device_raises_playback_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(has_device=False))
    with pytest.raises(PlaybackUnavailable, match="no audio output device"):
        Player().play(tone(), SR)


# ---- distill-tui play FILE -----------------------------------------------------------------------


def _play_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "DISTILL_"))}
    return subprocess.run([sys.executable, "-m", "distill_tui.cli", "play", *args], capture_output=True, text=True,
                          timeout=60, env={**full, **env})  # fmt: skip


def test_play_cli_over_ssh_without_listener_shows_the_file(no_config, tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(), SR)
    result = _play_cli(str(path), "--json", env={**no_config, "SSH_CONNECTION": "a b c d"})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["route"] == "file" and doc["path"] == str(path.resolve()) and doc["seconds"] == 0.5
    assert "distill-tui listen" in result.stderr  # the hint, on stderr when --json owns stdout


def test_play_cli_sends_to_the_listener(no_config, listener, tmp_path):
    server, events, _ = listener
    path = tmp_path / "stereo.wav"
    stereo = np.stack([tone(), -tone()], axis=1)
    sf.write(path, stereo, SR, subtype="FLOAT")
    env = {**no_config, "SSH_CONNECTION": "a b c d", "DISTILL_LISTEN": f"127.0.0.1:{server.port}",
           "DISTILL_LISTEN_TOKEN": TOKEN}  # fmt: skip
    result = _play_cli(str(path), "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["route"] == "listener" and doc["first_sample_ms"] > 0
    assert np.array_equal(events[0].clip.samples, stereo)  # stereo stays stereo


def test_play_cli_errors(no_config, tmp_path, monkeypatch, capsys):
    for name, value in no_config.items():
        monkeypatch.setenv(name, value)

    def play(*args: str) -> tuple[int, str]:
        code = main(["play", *args])
        return code, capsys.readouterr().err

    code, err = play(str(tmp_path / "nope.wav"))
    assert code == 2 and err.startswith("error: ") and "no such file" in err and len(err.splitlines()) == 1
    codes = tmp_path / "x.codes.json"
    codes.write_text("{}")
    code, err = play(str(codes))
    assert code == 2 and "needs --model MODEL (it names no model)" in err
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone(), SR)
    monkeypatch.setenv("DISTILL_LISTEN", "nonsense")
    code, err = play(str(wav))
    assert code == 2 and err.startswith("error: ") and "DISTILL_LISTEN='nonsense' is not host:port" in err


def test_play_finds_the_model_of_a_codes_document_beside_it(tiny_model, tmp_path, monkeypatch):
    """`play x.codes.json` said "needs --model MODEL" even with the model that made it in the same folder: the
    document records the model's fingerprint, and `play` now looks for it beside the document, in the folder
    above, and in the current folder (headers only); elsewhere it still asks, naming the fingerprint."""
    import shutil

    from distill_tui.commands.play import _model_beside
    from distill_tui.errors import BadInputError
    from distill_tui.persistence.header import read_header_document

    fingerprint = read_header_document(tiny_model).fingerprint
    work = tmp_path / "session" / "takes"
    work.mkdir(parents=True)
    codes = work / "take.codes.json"
    codes.write_text(json.dumps({"format": "distill-codes", "model_fingerprint": fingerprint}))
    (work / "other.distill").write_bytes(b"not a model")  # unreadable ones are passed over
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match=f"no model with fingerprint {fingerprint} is beside it"):
        _model_beside(codes)
    model = shutil.copy(tiny_model, tmp_path / "session" / "kit.distill")  # the folder above the takes
    assert _model_beside(codes) == Path(model).resolve()


def test_the_file_route_names_the_sound_as_it_was_given(no_config, portaudio_missing, tmp_path):
    """`play kit/clap.ogg`, where kit/ held links into a sample library, said "the sound is
    /usr/share/lmms/samples/drums/clap01.ogg": a path the musician never typed."""
    library = tmp_path / "library"
    library.mkdir()
    sf.write(library / "clap01.wav", tone(), SR)
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "clap.wav").symlink_to(library / "clap01.wav")
    result = Router(no_config).play(tone(), SR, name="clap.wav", source_path=kit / "clap.wav")
    assert result.route == "file" and result.path == kit / "clap.wav"
    assert f"the sound is {kit / 'clap.wav'}" in result.message and "clap01" not in result.message


def test_play_finds_the_model_a_codes_document_names(tiny_model, tmp_path, monkeypatch):
    """A codes file saved in one folder with its model in another: `play` asked for --model. Distill now records
    the model file in what it saves (source.model_file), checked by fingerprint before it is used."""
    from distill_tui.commands.play import _model_beside
    from distill_tui.errors import BadInputError
    from distill_tui.persistence.header import read_header_document
    from distill_tui.persistence.model_of_codes import note_model

    fingerprint = read_header_document(tiny_model).fingerprint
    codes = tmp_path / "takes" / "take.codes.json"
    codes.parent.mkdir()
    source: dict = {}
    note_model(source, tiny_model)
    codes.write_text(json.dumps({"format": "distill-codes", "model_fingerprint": fingerprint, "source": source}))
    monkeypatch.chdir(tmp_path)
    assert _model_beside(codes) == tiny_model
    codes.write_text(json.dumps({"format": "distill-codes", "model_fingerprint": "0" * 16, "source": source}))
    with pytest.raises(BadInputError, match="no model with fingerprint 0000000000000000"):  # named, but not its model
        _model_beside(codes)


def test_the_portaudio_advice_is_the_command_for_this_machine(monkeypatch):
    """It listed Debian, Fedora and macOS commands at once: nine lines over the editor for 12 s at 90 columns."""
    have: set[str] = set()
    monkeypatch.setattr(local.shutil, "which", lambda tool: f"/usr/bin/{tool}" if tool in have else None)
    monkeypatch.setattr(local.sys, "platform", "linux")
    have.add("dnf")
    assert local.portaudio_install() == "sudo dnf install portaudio"
    have.add("apt-get")
    assert local.portaudio_install() == "sudo apt install libportaudio2"
    monkeypatch.setattr(local.sys, "platform", "darwin")
    assert local.portaudio_install() == "brew install portaudio"
    monkeypatch.setattr(local.sys, "platform", "linux")
    have.clear()  # no package manager known: the usual ones, named
    assert "apt install libportaudio2" in local.portaudio_install() and "brew" in local.portaudio_install()
