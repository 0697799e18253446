"""Local playback through sounddevice (imported lazily): play, stop, loop a region, a playhead position.

The output stream stays open and a small mixer renders into it from PortAudio's callback thread. A new
`play` fades the old sound out over ~5 ms while the new one fades in, so cancelling never clicks; `stop`
fades out the same way. A new loop can instead wait for the playing loop's next repetition (`at_wrap`).
A loop's region is cross-faded tail into head; a cycle that already runs into its own start (a loop
decoded circularly) is played round exactly by handing over `seamless_cycle(cycle)` as the region.
Without sounddevice, PortAudio or an output device, `PlaybackUnavailable` says why.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import DistillError

FADE_SECONDS = 0.005


class PlaybackUnavailable(DistillError):
    """This machine cannot play sound; `reason` says why in one line."""


def import_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing module or a missing PortAudio library into PlaybackUnavailable."""
    try:
        import sounddevice  # noqa: PLC0415 - lazy: PortAudio may be absent, and the TUI starts faster
    except ImportError as exc:
        raise PlaybackUnavailable("sounddevice is not installed (pip install sounddevice)") from exc
    except OSError as exc:  # sounddevice raises OSError when the PortAudio library is missing
        raise PlaybackUnavailable(f"the PortAudio library is missing: install it ({portaudio_install()})") from exc
    return sounddevice


def portaudio_install() -> str:
    """The command that installs PortAudio on this machine (by its system and package manager), or the
    usual ones when neither is known."""
    if sys.platform == "darwin":
        return "brew install portaudio"
    for tool, command in (("apt-get", "sudo apt install libportaudio2"), ("dnf", "sudo dnf install portaudio"),
                          ("pacman", "sudo pacman -S portaudio"), ("zypper", "sudo zypper install portaudio")):
        if shutil.which(tool):
            return command
    return "Debian/Ubuntu: sudo apt install libportaudio2; Fedora: sudo dnf install portaudio; macOS: brew install portaudio"


def output_device(sd: ModuleType) -> dict[str, Any]:
    """The default output device, or PlaybackUnavailable when there is none."""
    try:
        device = sd.query_devices(kind="output")
    except Exception as exc:  # noqa: BLE001 - PortAudioError, ValueError: all mean "no device"
        raise PlaybackUnavailable(f"no audio output device ({exc})") from exc
    if not device or int(device.get("max_output_channels", 0)) < 1:
        raise PlaybackUnavailable("no audio output device")
    return dict(device)


def probe() -> str | None:
    """None when local playback can work here, else the one-line reason it cannot."""
    try:
        output_device(import_sounddevice())
    except PlaybackUnavailable as exc:
        return str(exc)
    return None


@dataclass
class _Voice:
    """One sound in the mixer: a (n, channels) buffer at the stream's rate and a gain ramp."""

    buffer: np.ndarray  # (n, channels) float32
    offset_s: float  # where buffer[0] sits in the original clip (the loop region's start)
    loop: bool
    pos: int = 0
    gain: float = 0.0  # starts silent and ramps to 1: the fade-in
    target: float = 1.0
    done: bool = False
    then: _Voice | None = None  # a loop that takes over at this loop's next wrap (`Mixer.add(at_wrap=True)`)


class Mixer:
    """Sums voices into an output block; thread-safe between the UI thread and the audio callback."""

    def __init__(self, sample_rate: int, channels: int, *, fade_s: float = FADE_SECONDS) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.fade_frames = max(1, round(fade_s * sample_rate))
        self._voices: list[_Voice] = []
        self._lock = threading.Lock()

    def add(self, samples: np.ndarray, loop_region: tuple[float, float] | None = None, *, at_wrap: bool = False) -> None:
        """Start `samples` ((N,) or (N, C), at the mixer's rate); everything already playing fades out.

        `at_wrap` (with a `loop_region`): when a loop is playing, the new one starts at that loop's next
        repetition, sample-exactly, instead of now (the old one fades out over the fade time from there)."""
        data = _to_channels(np.asarray(samples, dtype=np.float32), self.channels)  # (N, channels)
        offset_s, loop = 0.0, False
        if loop_region is not None:
            start = min(max(int(round(loop_region[0] * self.sample_rate)), 0), len(data) - 1)
            end = min(max(int(round(loop_region[1] * self.sample_rate)), start + 1), len(data))
            data, offset_s, loop = (
                _loop_buffer(data[start:end], self.fade_frames),
                start / self.sample_rate,
                True,
            )
        else:
            data = data.copy()
            tail = min(self.fade_frames, len(data))  # a short fade at the natural end: no click when it stops
            data[len(data) - tail :] *= (np.arange(tail, dtype=np.float32)[::-1] / tail)[:, None]
        voice = _Voice(buffer=data, offset_s=offset_s, loop=loop)
        with self._lock:
            current = [v for v in self._voices if v.loop and not v.done and v.target > 0]
            if at_wrap and loop and current:
                current[-1].then = voice  # a later edit replaces an earlier one still waiting
                return
            for old in self._voices:
                old.target = 0.0
            self._voices.append(voice)

    def stop(self) -> None:
        """Fade everything out over the fade time."""
        with self._lock:
            for voice in self._voices:
                voice.target = 0.0

    @property
    def active(self) -> bool:
        with self._lock:
            return any(not v.done for v in self._voices)

    def position(self, latency_s: float = 0.0) -> float | None:
        """Seconds into the clip of the sound now playing (None when silent), `latency_s` behind the mixer."""
        with self._lock:
            live = [v for v in self._voices if not v.done and v.target > 0]
            if not live:
                return None
            voice = live[-1]
            n = len(voice.buffer)
            frames = voice.pos - latency_s * self.sample_rate
            if voice.loop:
                frames %= n  # a loop's playhead wraps to its start
            return voice.offset_s + max(frames, 0.0) / self.sample_rate

    def render(self, out: np.ndarray) -> None:
        """Write the next len(out) frames into `out` (frames, channels), overwriting it."""
        out.fill(0.0)
        with self._lock:
            for voice in list(self._voices):
                nxt = voice.then
                if nxt is not None and voice.target > 0 and len(voice.buffer) - voice.pos <= len(out):
                    wrap = len(voice.buffer) - voice.pos  # frames until this loop's next repetition
                    self._render_voice(voice, out[:wrap])
                    voice.then, voice.target = None, 0.0
                    self._voices.append(nxt)
                    self._render_voice(voice, out[wrap:])
                    self._render_voice(nxt, out[wrap:])
                else:
                    self._render_voice(voice, out)
            self._voices = [v for v in self._voices if not v.done]

    def _render_voice(self, voice: _Voice, out: np.ndarray) -> None:
        n_out, n = len(out), len(voice.buffer)
        if voice.loop:
            idx = (voice.pos + np.arange(n_out)) % n
            chunk = voice.buffer[idx]
            voice.pos = (voice.pos + n_out) % n
        else:
            chunk = voice.buffer[voice.pos : voice.pos + n_out]
            voice.pos += len(chunk)
            if voice.pos >= n:
                voice.done = True
        k = len(chunk)
        if voice.gain == voice.target == 1.0:
            out[:k] += chunk
            return
        direction = 1.0 if voice.target > voice.gain else -1.0
        ramp = np.clip(voice.gain + direction * np.arange(1, k + 1) / self.fade_frames, 0.0, 1.0)
        out[:k] += chunk * ramp.astype(np.float32)[:, None]
        voice.gain = float(ramp[-1]) if k else voice.gain
        if voice.target == 0.0 and voice.gain <= 0.0:
            voice.done = True


class Player:
    """Plays clips on the default output device. `play` cancels the previous clip with a short crossfade.

    The stream is opened at the first clip's sample rate and kept open; later clips at another rate are
    resampled to it. Raises PlaybackUnavailable (from `play`) when the machine cannot play sound.
    """

    def __init__(self, *, fade_s: float = FADE_SECONDS, latency: str | float = "low") -> None:
        self.fade_s = fade_s
        self.latency = latency
        self._stream: Any = None
        self._mixer: Mixer | None = None
        self._lock = threading.Lock()
        #: perf_counter() when the last clip was handed to the mixer (the listener reports this as "playing")
        self.started_at: float | None = None

    def play(
        self, samples: np.ndarray, sample_rate: int, loop_region: tuple[float, float] | None = None, *,
        at_wrap: bool = False,
    ) -> None:
        """Start `samples` ((N,) or (N, C), float in [-1, 1]); `loop_region` (start_s, end_s) loops that part;
        `at_wrap`: a loop that starts at the playing loop's next repetition (`Mixer.add`)."""
        data = np.asarray(samples, dtype=np.float32)
        if data.size == 0:
            return
        mixer = self._ensure_stream(sample_rate)
        if sample_rate != mixer.sample_rate:
            from ..audio.io import resample  # noqa: PLC0415 - only when rates differ

            cols = data[:, None] if data.ndim == 1 else data
            data = np.stack(
                [resample(cols[:, c], sample_rate, mixer.sample_rate) for c in range(cols.shape[1])], 1
            )
        mixer.add(data, loop_region, at_wrap=at_wrap)
        self.started_at = time.perf_counter()

    def stop(self) -> None:
        """Fade out whatever is playing (~5 ms). The stream stays open for the next clip."""
        if self._mixer is not None:
            self._mixer.stop()

    @property
    def is_playing(self) -> bool:
        return self._mixer is not None and self._mixer.active

    @property
    def position(self) -> float | None:
        """Seconds into the current clip that are reaching the speakers now (None when silent)."""
        if self._mixer is None:
            return None
        latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        return self._mixer.position(latency)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends (True) or `timeout` seconds pass (False). A loop never ends by itself."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_playing:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Fade out and close the stream."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            if self._mixer is not None and self._mixer.active:
                self._mixer.stop()
                time.sleep(self.fade_s * 2)
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead stream is not worth an error
                pass
        self._mixer = None

    def _ensure_stream(self, sample_rate: int) -> Mixer:
        with self._lock:
            if self._stream is not None and self._mixer is not None:
                return self._mixer
            sd = import_sounddevice()
            device = output_device(sd)
            channels = min(2, int(device.get("max_output_channels", 1)))  # mono clips go to both speakers
            mixer = Mixer(sample_rate, channels, fade_s=self.fade_s)
            try:
                stream = sd.OutputStream(
                    samplerate=sample_rate,
                    channels=channels,
                    dtype="float32",
                    latency=self.latency,
                    callback=self._callback,
                )
                stream.start()
            except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
                raise PlaybackUnavailable(f"could not open the audio output ({exc})") from exc
            self._mixer, self._stream = mixer, stream
            return mixer

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        mixer = self._mixer
        if mixer is None:
            outdata.fill(0.0)
            return
        mixer.render(outdata)


def _to_channels(data: np.ndarray, channels: int) -> np.ndarray:
    """(N,) or (N, C) -> (N, channels): mono is copied to every channel, more channels are mixed down."""
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[1] == channels:
        return data
    if data.shape[1] == 1:
        return np.repeat(data, channels, axis=1)
    mono = data.mean(axis=1, keepdims=True, dtype=np.float32)
    return mono if channels == 1 else np.repeat(mono, channels, axis=1)


def seamless_cycle(cycle: np.ndarray, sample_rate: int, fade_s: float = FADE_SECONDS) -> np.ndarray:
    """`cycle` ((N,) or (N, C)), which already runs into its own start, followed by its first fade frames.

    Looped as a region (the mixer's `_loop_buffer`, here or in a listener with the same fade), its tail
    cross-fades into a copy of its head: the loop then plays `cycle` round exactly, N frames a repetition.
    """
    fade = max(1, round(fade_s * sample_rate))
    data = np.asarray(cycle, dtype=np.float32)
    if len(data) < 4 * fade:  # too short for the mixer's cross-fade: it loops the region as it is
        return data.copy()
    return np.concatenate([data, data[:fade]])


def _loop_buffer(segment: np.ndarray, fade: int) -> np.ndarray:
    """A buffer that loops without a click: the segment's tail is crossfaded into its head.

    The result is `fade` frames shorter than `segment`; its last frame runs straight into its first.
    """
    n = len(segment)
    if n < 4 * fade:
        return segment.copy()
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)[:, None]
    out = segment[: n - fade].copy()
    out[:fade] = segment[:fade] * ramp + segment[n - fade :] * (1.0 - ramp)
    return out
