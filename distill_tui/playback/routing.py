"""Where a sound goes when the user asks to hear it: local speakers, a remote listener, or a written WAV.

The rule (docs/architecture.md, decision 10): in a local session, the local output device when there is one; else the
listener named by `DISTILL_LISTEN=host:port` + `DISTILL_LISTEN_TOKEN` (or the `[listen]` table of the
config file); else a WAV file whose path is shown. Over SSH (`SSH_CONNECTION`, `SSH_CLIENT` or `SSH_TTY`
set) the remote box's own speakers are skipped, since their sound would not reach the user.
`DISTILL_PLAYBACK=local|listener|file` forces a route. How to listen instead is said once per Router.

A loop decoded circularly (`play(..., cycle=True)`) plays round exactly until stopped, locally and on a
listener of any version: it goes as a loop region of `seamless_cycle(cycle)` (protocol v1's loop flag).
A new cycle `at_wrap` starts at the playing one's next repetition: sample-exactly on local speakers; sent
when this side's clock says the repetition begins for a listener (so within the tunnel's latency of it).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError, DistillError
from ..locations import config_dir
from .local import PlaybackUnavailable, Player, probe, seamless_cycle
from .remote import DEFAULT_PORT, ListenerRefused, ListenerUnreachable, Sender

ROUTES = ("local", "listener", "file")
SSH_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")
HOW_TO_LISTEN = (
    "to hear sounds on your own machine, run `distill-tui listen` there, reconnect with the `ssh -R ...` line it "
    "prints, and set DISTILL_LISTEN=127.0.0.1:PORT and DISTILL_LISTEN_TOKEN=TOKEN here"
)
# Not over SSH, the sound cannot be heard because of this machine: say so, and the listener only in passing.
HOW_TO_HEAR_LOCALLY = (
    "until then each sound is written to a file, its path shown (`distill-tui listen --help` says how to hear "
    "them on another machine)"
)


@dataclass(frozen=True)
class ListenerConfig:
    """Where the listener is reached from this machine (normally the local end of an `ssh -R` tunnel)."""

    host: str
    port: int
    token: str
    source: str  # "environment" or the config file's path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RouteDecision:
    """Which route sounds take, and why the better ones were passed over (`reason`)."""

    route: str  # one of ROUTES
    reason: str
    over_ssh: bool
    listener: ListenerConfig | None = None


@dataclass
class PlayResult:
    """What happened to one play request. `message` is one line for the user (with the hint, the first time)."""

    route: str  # the route actually taken: "local", "listener" or "file"
    message: str
    seconds: float
    path: Path | None = None  # the WAV to copy and play, on the "file" route
    first_sample_s: float | None = None  # request -> first sample handed to the device or the socket


def over_ssh(env: Mapping[str, str]) -> bool:
    return any(env.get(name) for name in SSH_VARIABLES)


def config_path(env: Mapping[str, str]) -> Path:
    """`DISTILL_CONFIG` from `env`, else the platform's config file (`locations.config_dir()/config.toml`).

    `env` supplies Distill's own variables (tests pass their own); the platform's folder comes from the
    process environment (on Linux `$XDG_CONFIG_HOME/distill-tui/config.toml`, default ~/.config/...).
    """
    if env.get("DISTILL_CONFIG"):
        return Path(env["DISTILL_CONFIG"])
    return config_dir() / "config.toml"


def parse_address(text: str, what: str = "DISTILL_LISTEN", path: Path | None = None) -> tuple[str, int]:
    """'host:port', '[::1]:port', ':port' or 'port' -> (host, port); the host defaults to 127.0.0.1. `path`:
    the config file it came from, named in the error."""
    match = re.fullmatch(r"\s*(?:(\[[^\]]+\]|[^:\s]*):)?(\d{1,5})\s*", text)
    if not match:
        raise BadInputError(f"{what}={text!r} is not host:port (for example 127.0.0.1:{DEFAULT_PORT})", path)
    if not 1 <= int(match.group(2)) <= 65535:
        raise BadInputError(f"{what}={text!r}: port {int(match.group(2))} is not one (ports are 1 to 65535)", path)
    host = (match.group(1) or "127.0.0.1").strip("[]")
    return host, int(match.group(2))


def listener_config(env: Mapping[str, str], path: Path | None = None) -> ListenerConfig | None:
    """The listener from the environment, else from the config file's [listen] table; None if neither names one.

    The config file looks like:  [listen]  address = "127.0.0.1:47474"  token = "..."
    Each of address and token comes from the environment when set there.
    """
    path = config_path(env) if path is None else path
    table: dict[str, object] = {}
    if path.is_file():
        try:
            with path.open("rb") as fh:
                listen = tomllib.load(fh).get("listen", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BadInputError(f"cannot read the config file ({exc})", path) from exc
        if not isinstance(listen, dict):
            raise BadInputError("[listen] must be a table", path)
        table = listen
    address = env.get("DISTILL_LISTEN") or table.get("address")
    token = env.get("DISTILL_LISTEN_TOKEN") or table.get("token")
    if not address:
        return None
    source = "environment" if env.get("DISTILL_LISTEN") else str(path)
    if not isinstance(address, str) or (token is not None and not isinstance(token, str)):
        raise BadInputError("[listen] address and token must be strings", path)
    host, port = (parse_address(address) if source == "environment" else
                  parse_address(address, "[listen] address", path))
    if not token:
        raise BadInputError(
            f"a listener is set ({host}:{port}, from {source}) but no token: set DISTILL_LISTEN_TOKEN "
            "to the token `distill-tui listen` printed"
        )
    if not 1 <= len(token.encode("utf-8")) <= 255:
        raise BadInputError(f"the listener token (from {source}) must be 1..255 bytes")
    return ListenerConfig(host, port, token, source)


def decide_route(
    env: Mapping[str, str] | None = None,
    *,
    local_probe: Callable[[], str | None] = probe,
    config: Path | None = None,
) -> RouteDecision:
    """Pick the route without playing anything. Raises BadInputError for a malformed listener setting."""
    env = os.environ if env is None else env
    ssh = over_ssh(env)
    listener = listener_config(env, config)
    forced = env.get("DISTILL_PLAYBACK", "auto") or "auto"
    if forced not in (*ROUTES, "auto"):
        raise BadInputError(f"DISTILL_PLAYBACK={forced!r} is not one of auto, local, listener, file")
    if forced == "file":
        return RouteDecision("file", "DISTILL_PLAYBACK=file", ssh)
    if forced == "listener":
        if listener is None:
            raise BadInputError("DISTILL_PLAYBACK=listener but no listener is set (DISTILL_LISTEN)")
        return RouteDecision("listener", "DISTILL_PLAYBACK=listener", ssh, listener)
    if ssh and forced != "local":
        why_not_local = "this is an SSH session, so this machine's speakers would not reach you"
    else:
        why_not_local = local_probe()
        if why_not_local is None:
            return RouteDecision("local", "an output device is available", ssh)
    if listener is not None:
        return RouteDecision("listener", why_not_local, ssh, listener)
    return RouteDecision("file", why_not_local, ssh)


class Router:
    """Plays sounds by the decided route and falls back, down the list, when a route fails.

    One Router per app or command: it keeps the local Player (so a new play cancels the old one) and
    remembers whether the how-to-listen hint was shown. Sends to a listener block until acknowledged
    (milliseconds on a tunnel); call `play` from a worker thread in the TUI. A malformed listener setting
    raises BadInputError from `decision` and `play`.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        out_dir: str | Path | None = None,
        local_probe: Callable[[], str | None] = probe,
        config: Path | None = None,
        player: Player | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.local_probe = local_probe
        self.config = config
        self.out_dir = Path(out_dir) if out_dir else default_out_dir(self.env)
        self.player = player
        self._decision: RouteDecision | None = None
        self._sender: Sender | None = None
        self._hinted = False
        self._remote_clock: tuple[float, float, float, bool] | None = None  # start, offset_s, length_s, loop
        self._plays = 0  # counts play and stop requests: a cycle waiting for the listener's wrap checks it

    @property
    def decision(self) -> RouteDecision:
        if self._decision is None:
            self._decision = decide_route(self.env, local_probe=self.local_probe, config=self.config)
        return self._decision

    def play(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        name: str = "",
        loop_region: tuple[float, float] | None = None,
        source_path: str | Path | None = None,
        cycle: bool = False,
        at_wrap: bool = False,
    ) -> PlayResult:
        """Play (N,) or (N, C) float samples. On the file route, an existing `source_path` is shown, not rewritten.

        `cycle`: the samples are one cycle of a loop that runs into its own start; it plays round exactly until
        stopped (on the file route, the one cycle is written). `at_wrap`: it starts at the next repetition of
        the cycle playing now (see the module's doc)."""
        requested = time.perf_counter()
        samples = np.asarray(samples, dtype=np.float32)
        seconds = len(samples) / sample_rate
        decision = self.decision
        notes: list[str] = []
        self._plays += 1
        if cycle:
            return self._play_cycle(samples, sample_rate, name, at_wrap, requested, source_path)
        if decision.route == "local":
            try:
                player = self.player = self.player or Player()
                player.play(samples, sample_rate, loop_region)
                first = (player.started_at or requested) - requested
                return PlayResult("local", f"playing {_label(name)} ({seconds:.2f} s)", seconds, None, first)
            except PlaybackUnavailable as exc:  # the device vanished: do not try it again this session
                fallback = "listener" if decision.listener else "file"
                decision = RouteDecision(fallback, str(exc), decision.over_ssh, decision.listener)
                self._decision = decision
        if decision.route == "listener" and decision.listener is not None:
            clip, offset = samples, 0.0
            if loop_region is not None:
                start = max(int(loop_region[0] * sample_rate), 0)
                clip, offset = (
                    samples[start : max(int(loop_region[1] * sample_rate), start + 1)],
                    start / sample_rate,
                )
            try:
                result = self._sender_for(decision.listener).send(
                    clip, sample_rate, name=name, loop=loop_region is not None, started=requested
                )
            except (ListenerUnreachable, ListenerRefused) as exc:
                notes.append(str(exc))
            else:
                self._remote_clock = (
                    time.monotonic(),
                    offset,
                    len(clip) / sample_rate,
                    loop_region is not None,
                )
                message = (
                    f"sent {_label(name)} ({seconds:.2f} s) to the listener at {decision.listener.address}"
                )
                return PlayResult("listener", message, seconds, None, result.first_sample_s)
        return self._to_file(samples, sample_rate, name, source_path, decision, notes, seconds)

    def _play_cycle(self, cycle: np.ndarray, sample_rate: int, name: str, at_wrap: bool, requested: float,
                    source_path: str | Path | None) -> PlayResult:
        """`play(..., cycle=True)`: the cycle round and round, by the decided route (falling back as `play` does)."""
        seconds = len(cycle) / sample_rate
        buffer = seamless_cycle(cycle, sample_rate)
        region = (0.0, len(buffer) / sample_rate)
        decision, notes = self.decision, []
        label = f"looping {_label(name)} ({seconds:.2f} s a repetition)"
        if decision.route == "local":
            try:
                player = self.player = self.player or Player()
                player.play(buffer, sample_rate, region, at_wrap=at_wrap)
                return PlayResult("local", label, seconds, None, (player.started_at or requested) - requested)
            except PlaybackUnavailable as exc:
                decision = self._decision = RouteDecision("listener" if decision.listener else "file", str(exc),
                                                          decision.over_ssh, decision.listener)
        if decision.route == "listener" and decision.listener is not None:
            ticket = self._plays
            clock = self._remote_clock
            if at_wrap and clock is not None and clock[3] and clock[2] > 0:
                time.sleep(clock[2] - (time.monotonic() - clock[0]) % clock[2])  # until its next repetition
                if ticket != self._plays:  # stopped, or something else was played meanwhile
                    return PlayResult("listener", f"{_label(name)}: replaced before it played", seconds)
            try:
                result = self._sender_for(decision.listener).send(buffer, sample_rate, name=name, loop=True,
                                                                  started=requested)
            except (ListenerUnreachable, ListenerRefused) as exc:
                notes.append(str(exc))
            else:
                self._remote_clock = (time.monotonic(), 0.0, seconds, True)
                return PlayResult("listener", f"{label} on the listener at {decision.listener.address}", seconds,
                                  None, result.first_sample_s)
        return self._to_file(cycle, sample_rate, name, source_path, decision, notes, seconds)

    def stop(self) -> None:
        """Fade out local playback, or ask the listener to (best effort: a dead tunnel is not an error here)."""
        self._remote_clock = None
        self._plays += 1
        if self.player is not None:
            self.player.stop()
        if self._sender is not None and self.decision.route == "listener":
            try:
                self._sender.stop()
            except DistillError:
                pass

    @property
    def position(self) -> float | None:
        """Seconds into the sound now playing, for a playhead; estimated from the clock for a listener."""
        if self.player is not None and self.player.is_playing:
            return self.player.position
        if self._remote_clock is None:
            return None
        start, offset, length, loop = self._remote_clock
        elapsed = time.monotonic() - start
        if loop and length > 0:
            return offset + elapsed % length
        return offset + elapsed if elapsed <= length else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until local playback ends (True at once for other routes)."""
        return True if self.player is None else self.player.wait(timeout)

    def close(self) -> None:
        if self.player is not None:
            self.player.close()

    def _sender_for(self, listener: ListenerConfig) -> Sender:
        if self._sender is None or (self._sender.host, self._sender.port) != (listener.host, listener.port):
            self._sender = Sender(listener.host, listener.port, listener.token)
        return self._sender

    def _to_file(
        self,
        samples: np.ndarray,
        sample_rate: int,
        name: str,
        source_path: str | Path | None,
        decision: RouteDecision,
        notes: list[str],
        seconds: float,
    ) -> PlayResult:
        from ..audio.io import save_audio  # noqa: PLC0415 - soundfile only on this route

        if source_path is not None and Path(source_path).is_file():
            path = Path(source_path).absolute()
            what = f"cannot play here; the sound is {path}"
        else:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            stem = f"{_slug(name)}-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 10_000:04d}"
            path = save_audio(self.out_dir / f"{stem}.wav", samples, sample_rate, bits="float").resolve()
            what = f"wrote {path}"
        parts = [what, *notes]
        hint = self.notice()
        if hint and not notes:
            parts.append(hint)
        return PlayResult("file", "; ".join(parts), seconds, path)

    def notice(self) -> str | None:
        """Why sounds cannot be heard directly and how to listen instead, the first time only; else None.
        In a local session (no SSH) the `ssh -R` recipe is left out: the fault is this machine's sound.

        The TUI calls this at start-up to say it once; `play` says it on the first file it writes.
        """
        decision = self.decision
        if self._hinted or decision.route != "file":
            return None
        self._hinted = True
        how = HOW_TO_LISTEN if decision.over_ssh else HOW_TO_HEAR_LOCALLY
        return f"{decision.reason}; {how}" if decision.reason else how


def default_out_dir(env: Mapping[str, str]) -> Path:
    """`DISTILL_PLAY_DIR`, else a per-user folder in the temporary directory."""
    if env.get("DISTILL_PLAY_DIR"):
        return Path(env["DISTILL_PLAY_DIR"])
    return Path(tempfile.gettempdir()) / f"distill-tui-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def _label(name: str) -> str:
    return name or "the sound"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem if name else "").strip("._-")[:40] or "sound"
