"""The listener over real loopback sockets: end to end across processes, and every kind of bad client."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.playback import protocol as P
from distill_tui.playback.remote import Listener, ListenerRefused, ListenerUnreachable, Sender

TOKEN = "test-token-0123456789abcdef"
SR = 22050


def _wait_for_line(path: Path, pattern: str, proc: subprocess.Popen, timeout: float = 30.0) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text() if path.exists() else "")
        if match:
            return match
        if proc.poll() is not None:
            raise AssertionError(f"listener exited with {proc.returncode}: {path.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the listener's output: {path.read_text()}")


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """`distill-tui listen --no-play --save-to DIR` in its own process; yields (port, save_dir, log_path)."""
    tmp = tmp_path_factory.mktemp("listener")
    save_dir, log = tmp / "saved", tmp / "stdout.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "distill_tui.cli", "listen", "--port", "0", "--token", TOKEN,
             "--save-to", str(save_dir), "--no-play", "--max-mb", "4"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        port = int(_wait_for_line(log, r"listening on 127\.0\.0\.1:(\d+)", proc).group(1))
        yield port, save_dir, log, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(5)
    return sock


def _hello_ok(port: int) -> socket.socket:
    sock = _connect(port)
    sock.sendall(P.encode_hello(TOKEN))
    assert sock.recv(1) == bytes([P.OK])
    return sock


def _clip(seconds: float = 0.5, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (int(seconds * SR),) if channels == 1 else (int(seconds * SR), channels)
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def _assert_good_client_works(port: int, save_dir: Path, name: str) -> None:
    samples = _clip(0.25, seed=hash(name) % 1000)
    Sender("127.0.0.1", port, TOKEN, connect_timeout=5, io_timeout=5).send(samples, SR, name=name)
    saved = sorted(save_dir.glob(f"*-{name}.wav"))
    assert len(saved) == 1, list(save_dir.iterdir())
    data, rate = sf.read(saved[0], dtype="float32")
    assert rate == SR and np.array_equal(data, samples)


def test_end_to_end_saved_wav_equals_what_was_sent(remote):
    port, save_dir, log, _ = remote
    mono, stereo = _clip(4.0, seed=1), _clip(0.5, channels=2, seed=2)
    result = Sender("127.0.0.1", port, TOKEN, io_timeout=5).send(mono, SR, name="e2e-mono")
    assert result.attempts == 1 and result.payload_bytes == mono.size * 4
    assert 0 < result.first_sample_s <= result.total_s
    Sender("127.0.0.1", port, TOKEN, io_timeout=5).send(stereo, 44100, name="e2e-stereo")
    (mono_path,) = save_dir.glob("*-e2e-mono.wav")
    (stereo_path,) = save_dir.glob("*-e2e-stereo.wav")
    got_mono, rate = sf.read(mono_path, dtype="float32")
    assert rate == SR and sf.info(mono_path).subtype == "FLOAT" and np.array_equal(got_mono, mono)
    got_stereo, rate = sf.read(stereo_path, dtype="float32")
    assert rate == 44100 and got_stereo.shape == (len(stereo), 2) and np.array_equal(got_stereo, stereo)
    # `play` sends the file's name: the clip is saved as a WAV named after the sound, not "take.codes.json.wav"
    for sent, saved_as in (("take.codes.json", "take"), ("kick.flac", "kick"), ("loop.WAV", "loop")):
        Sender("127.0.0.1", port, TOKEN, io_timeout=5).send(_clip(0.1), SR, name=sent)
        assert len(list(save_dir.glob(f"*-{saved_as}.wav"))) == 1, sorted(p.name for p in save_dir.iterdir())
    said = _wait_for_line(log, r"clip \d+: e2e-mono.*", remote[3]).group(0)
    assert "not played, saved" in said and "playing" not in said  # --no-play: it said "playing 0.8 ms after receipt"


def test_startup_prints_the_ssh_line_and_the_remote_settings(remote):
    port, _, log, _ = remote
    text = log.read_text()
    assert f"ssh -R {port}:127.0.0.1:{port} user@remote-host" in text
    assert f"DISTILL_LISTEN=127.0.0.1:{port}" in text
    assert TOKEN not in text  # a token the user gave is not echoed


def test_wrong_token_is_refused_then_a_good_client_works(remote):
    port, save_dir, _, _ = remote
    with _connect(port) as sock:
        sock.sendall(P.encode_hello("not-the-token"))
        assert sock.recv(1) == bytes([P.BAD_TOKEN])
        assert sock.recv(1) == b""  # and closed
    with pytest.raises(ListenerRefused, match="wrong token"):
        Sender("127.0.0.1", port, TOKEN[:-1] + "X", io_timeout=5).send(_clip(0.1), SR)
    _assert_good_client_works(port, save_dir, "after-token")


def test_garbage_bytes_are_refused(remote):
    port, save_dir, _, _ = remote
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512))
        assert sock.recv(1) == bytes([P.BAD_HELLO])
    with _hello_ok(port) as sock:
        sock.sendall(os.urandom(P.HEADER.size))
        assert sock.recv(1) in (bytes([P.BAD_HEADER]), bytes([P.TOO_LARGE]))
    _assert_good_client_works(port, save_dir, "after-garbage")


def test_truncated_frame_is_dropped(remote):
    port, save_dir, _, _ = remote
    head, payload = P.encode_clip(_clip(0.5), SR, name="truncatedclip")
    with _hello_ok(port) as sock:
        sock.sendall(head + bytes(payload[: len(payload) // 2]))
        sock.shutdown(socket.SHUT_WR)  # EOF in the middle of the payload
        assert sock.recv(1) == b""
    with _hello_ok(port) as sock:
        sock.sendall(head[:10])
        sock.shutdown(socket.SHUT_WR)  # EOF in the middle of the header
        assert sock.recv(1) == b""
    assert not list(save_dir.glob("*-truncatedclip.wav"))
    _assert_good_client_works(port, save_dir, "after-truncated")


def test_oversize_frames_are_refused(remote):
    port, save_dir, _, _ = remote
    with _hello_ok(port) as sock:
        sock.sendall(P.HEADER.pack(b"CLIP", SR, 2, 1, 10**12, 0, 0))  # claims 8 TB
        assert sock.recv(1) == bytes([P.TOO_LARGE])
    five_mib = np.zeros(5 * 1024 * 1024 // 4, dtype=np.float32)  # over this listener's --max-mb 4
    with pytest.raises(ListenerRefused, match="larger than"):
        Sender("127.0.0.1", port, TOKEN, io_timeout=5).send(five_mib, SR)
    _assert_good_client_works(port, save_dir, "after-oversize")


def test_client_disconnecting_mid_clip(remote):
    port, save_dir, _, _ = remote
    head, payload = P.encode_clip(_clip(1.0), SR, name="vanishedclip")
    sock = _hello_ok(port)
    sock.sendall(head + bytes(payload[:10000]))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an abortive close: the listener sees a reset, as when a tunnel dies
    _assert_good_client_works(port, save_dir, "after-vanished")
    assert not list(save_dir.glob("*-vanishedclip.wav"))


def test_listener_process_survived_everything(remote):
    port, save_dir, log, proc = remote
    assert proc.poll() is None
    _assert_good_client_works(port, save_dir, "still-alive")


# ---- in-process listener: timeouts, one client at a time, stop, reconnects ---------------------


@pytest.fixture
def local_listener(tmp_path):
    """A Listener in a thread with short timeouts; yields (listener, events list, stops list)."""
    events, stops, lines = [], [], []
    listener = Listener(
        TOKEN, port=0, on_event=events.append, on_stop=lambda: stops.append(1), save_to=tmp_path,
        handshake_timeout=0.3, idle_timeout=0.3, log=lines.append,
    )  # fmt: skip
    listener.bind()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    yield listener, events, stops
    listener.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_silent_client_is_dropped_after_the_handshake_timeout(local_listener):
    listener, events, _ = local_listener
    with _connect(listener.port) as silent:
        started = time.monotonic()
        Sender("127.0.0.1", listener.port, TOKEN, io_timeout=5).send(_clip(0.1), SR, name="after-silent")
        assert time.monotonic() - started < 3
        assert silent.recv(1) == b""  # the listener gave up on it
    assert [e.clip.name for e in events] == ["after-silent"]


def test_clients_are_served_at_the_same_time(local_listener):
    listener, events, _ = local_listener
    listener.idle_timeout = 5.0
    first = _hello_ok(listener.port)  # holds a connection, idle
    with _connect(listener.port) as second:
        second.sendall(P.encode_hello(TOKEN))
        second.settimeout(2)
        assert second.recv(1) == bytes([P.OK])  # not kept waiting behind the first
    first.close()


def test_stop_frame_and_handoff_timing(local_listener):
    listener, events, stops = local_listener
    sender = Sender("127.0.0.1", listener.port, TOKEN, io_timeout=5)
    sender.send(_clip(0.2), SR, name="../../etc/passwd", loop=True)
    sender.stop()
    assert stops == [1]
    (event,) = events
    assert event.clip.loop and event.first_byte_at <= event.received_at <= event.playing_at
    assert 0 <= event.handoff_s < 0.1
    assert event.saved is not None and event.saved.parent == listener.save_to
    assert event.saved.name.endswith("-etc_passwd.wav")


def test_sender_reconnects_when_the_tunnel_comes_back(tmp_path):
    with socket.socket() as probe:  # a port with nothing behind it: the tunnel is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = Sender("127.0.0.1", port, TOKEN, connect_timeout=1, io_timeout=5, retries=1, backoff_s=0.01)
    with pytest.raises(ListenerUnreachable, match=f"127.0.0.1:{port}"):
        sender.send(_clip(0.1), SR)
    events: list = []
    listener = Listener(TOKEN, port=port, on_event=events.append, log=lambda line: None)
    listener.bind()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        assert sender.send(_clip(0.1), SR, name="back").attempts == 1
        assert [e.clip.name for e in events] == ["back"]
    finally:
        listener.close()
        thread.join(timeout=5)


def test_sender_resends_a_clip_cut_off_mid_way():
    class DropsFirstFrame(Listener):
        dropped = False

        def _serve_frame(self, conn, peer):
            if not self.dropped:
                self.dropped = True
                raise ConnectionError("tunnel dropped")
            return super()._serve_frame(conn, peer)

    events: list = []
    listener = DropsFirstFrame(TOKEN, port=0, on_event=events.append, log=lambda line: None)
    listener.bind()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        result = Sender("127.0.0.1", listener.port, TOKEN, io_timeout=5, backoff_s=0.01).send(_clip(0.3), SR)
        assert result.attempts == 2 and len(events) == 1
    finally:
        listener.close()
        thread.join(timeout=5)


def test_binding_beyond_loopback_warns_loudly(tmp_path):
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "distill_tui.cli", "listen", "--host", "0.0.0.0", "--port", "0", "--no-play",
             "--save-to", str(tmp_path / "clips")],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        _wait_for_line(log, r"listening on 0\.0\.0\.0:\d+", proc)
        text = log.read_text()
        assert "WARNING: binding 0.0.0.0" in text and re.search(r"token: \S{20,}", text)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "--no-play without --save-to" not in log.read_text()  # it saves


def test_no_play_without_a_save_folder_says_the_clips_are_dropped(tmp_path):
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "distill_tui.cli", "listen", "--port", "0", "--no-play"],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for_line(log, r"listening on 127\.0\.0\.1:\d+", proc)
        assert "clips are received and dropped, neither played nor saved" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_listen_without_a_device_or_save_folder_says_what_to_do(monkeypatch, capsys):
    from distill_tui.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # `import sounddevice` fails, as without the package
    code = main(["listen", "--port", "0", "--token", TOKEN])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and "--no-play --save-to" in err and len(err.splitlines()) == 1


def test_listen_refuses_settings_that_cannot_work_before_it_waits(tmp_path, capsys):
    """Found by scripted runs: --max-mb nan was Python's ValueError (exit 1); a --save-to that cannot be made failed
    only when the first clip came. (--no-play without --save-to, which drops every clip, now says so: below.)"""
    from distill_tui.cli import main

    (tmp_path / "a-file").write_text("")
    for args, said in ((["--max-mb", "nan", "--no-play", "--save-to", str(tmp_path)], "--max-mb nan must be more than 0"),
                       (["--max-mb", "inf", "--no-play", "--save-to", str(tmp_path)], "at most 4096"),
                       (["--no-play", "--save-to", str(tmp_path / "a-file")], "a-file: is a file, not a folder: --save-to needs"),
                       (["--no-play", "--save-to", str(tmp_path / "a-file" / "sub")], "cannot save clips there")):
        code = main(["listen", "--port", "0", "--token", TOKEN, *args])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and said in err and len(err.splitlines()) == 1, (args, err)


# ---- issue 16: nobody can hold the listener ------------------------------------------------------------


def _served_listener(**kw) -> tuple[Listener, threading.Thread, list]:
    events: list = []
    listener = Listener(TOKEN, port=0, on_event=events.append, log=lambda line: None, **kw)
    listener.bind()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    return listener, thread, events


def _stop(listener: Listener, thread: threading.Thread) -> None:
    listener.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_idle_connections_without_the_token_do_not_delay_a_sender():
    listener, thread, events = _served_listener()  # the real timeouts: 5 s handshake, 5 s idle
    idle = [_connect(listener.port) for _ in range(10)]
    try:
        started = time.monotonic()
        Sender("127.0.0.1", listener.port, TOKEN, io_timeout=10, retries=0).send(_clip(0.1), SR, name="through")
        assert time.monotonic() - started < 2.0
        assert [e.clip.name for e in events] == ["through"]
    finally:
        for sock in idle:
            sock.close()
        _stop(listener, thread)


def test_a_declared_clip_followed_by_silence_is_dropped():
    listener, thread, events = _served_listener(idle_timeout=0.5, max_payload=P.MAX_PAYLOAD_BYTES)
    try:
        with _hello_ok(listener.port) as sock:
            sock.sendall(P.HEADER.pack(b"CLIP", SR, 1, P.FORMAT_FLOAT32, P.MAX_PAYLOAD_BYTES // 4, 0, 0))
            started = time.monotonic()
            sock.settimeout(10)
            assert sock.recv(1) == b""  # dropped: no byte for idle_timeout
            assert time.monotonic() - started < 3.0
        assert listener.clip_deadline(P.MAX_PAYLOAD_BYTES) <= 300  # 64 MiB at 256 KiB/s, not half an hour
    finally:
        _stop(listener, thread)


def test_a_trickling_sender_is_dropped_at_the_clip_deadline():
    listener, thread, events = _served_listener(idle_timeout=1.0, clip_deadline_floor=1.0, min_transfer_rate=10**9)
    try:
        head, payload = P.encode_clip(_clip(0.5), SR, name="trickle")
        with _hello_ok(listener.port) as sock:
            sock.sendall(head)
            started = time.monotonic()
            closed = False
            for i in range(40):  # a byte every 0.1 s: never idle, never done
                try:
                    sock.sendall(bytes(payload[i : i + 1]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.1)
                sock.settimeout(0.01)
                try:
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
            assert closed and time.monotonic() - started < 3.0
        assert events == []
    finally:
        _stop(listener, thread)


def test_when_every_slot_is_taken():
    listener, thread, events = _served_listener(max_connections=3, handshake_timeout=5.0, idle_timeout=5.0)
    try:
        waiting = [_connect(listener.port) for _ in range(3)]  # no token yet: the first to make way
        Sender("127.0.0.1", listener.port, TOKEN, io_timeout=5, retries=0).send(_clip(0.1), SR, name="made-room")
        assert [e.clip.name for e in events] == ["made-room"]
        for sock in waiting:
            sock.close()
        deadline = time.monotonic() + 5
        while listener.connections and time.monotonic() < deadline:
            time.sleep(0.02)
        holders = [_hello_ok(listener.port) for _ in range(3)]  # with the token: they keep their slots
        with _connect(listener.port) as extra:
            extra.settimeout(5)
            assert extra.recv(1) == b""  # closed at once
        for sock in holders:
            sock.close()
    finally:
        _stop(listener, thread)


def test_clips_arriving_at_once_are_bounded_in_memory():
    listener, thread, events = _served_listener(max_payload=1 << 20, idle_timeout=5.0)
    try:
        header = P.HEADER.pack(b"CLIP", SR, 1, P.FORMAT_FLOAT32, (1 << 20) // 4, 0, 0)  # 1 MiB each, then stall
        stalled = [_hello_ok(listener.port) for _ in range(2)]
        for sock in stalled:
            sock.sendall(header)
        deadline = time.monotonic() + 5
        while listener._inflight < 2 << 20 and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        with _hello_ok(listener.port) as third:
            third.sendall(header)
            assert third.recv(1) == bytes([P.TOO_LARGE])  # busy: two limits' worth is arriving already
        for sock in stalled:
            sock.close()
        while listener._inflight and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        Sender("127.0.0.1", listener.port, TOKEN, io_timeout=5, retries=0).send(_clip(0.1), SR, name="after-busy")
        assert [e.clip.name for e in events] == ["after-busy"]
    finally:
        _stop(listener, thread)


def test_a_port_in_use_says_what_to_do(local_listener):
    """A second `listen` on the same port said only "(Address already in use)"."""
    from distill_tui.errors import DistillError

    listener, _, _ = local_listener
    second = Listener(TOKEN, port=listener.port, on_event=lambda e: None, on_stop=lambda: None, log=lambda line: None)
    with pytest.raises(DistillError, match=r"\(Address already in use\): another listener \(or program\) has this "
                                           r"port; stop it, or choose another with --port"):
        second.bind()


def test_listen_help_gives_the_three_steps_the_editor_points_to(capsys):
    """Without PortAudio the editor says "`distill-tui listen --help` says how to hear them on another machine";
    the help listed options only, with one mention of `ssh -R`."""
    from distill_tui.cli import _parse, build_parser
    from distill_tui.playback import DEFAULT_PORT

    assert _parse(build_parser(), ["listen", "--help"]) == 0
    out = capsys.readouterr().out
    steps = [out.index(s) for s in ("distill-tui listen", f"ssh -R {DEFAULT_PORT}:127.0.0.1:{DEFAULT_PORT}",
                                    f"export DISTILL_LISTEN=127.0.0.1:{DEFAULT_PORT} DISTILL_LISTEN_TOKEN=")]
    assert steps == sorted(steps) and "1. here, on your own machine" in out
