"""Remote listening: the listener the user runs on their own machine, and the sender a remote distill-tui uses.

The listener binds to 127.0.0.1 unless told otherwise, serves up to `max_connections` clients at once (a
thread each; clips are played and saved one at a time), compares the token in constant time, and survives
any input: garbage, a wrong token, a header that lies, a frame over the limit, a client that stalls or
vanishes mid-clip. Nobody can hold it without the token: before the token is checked only the HELLO
(at most `PRE_TOKEN_BYTES`) is read, within `handshake_timeout`; when every slot is taken, the oldest client
that has not yet shown the token is dropped to make room. With the token, a clip must keep arriving
(no `idle_timeout` without a byte) and must arrive whole within `clip_deadline(bytes)`, and the clips
arriving at once may hold at most two payload limits of memory (a clip beyond that is refused as busy). The sender opens one
connection per request, so a tunnel that dropped and came back just works on the next play; a connection
that fails is retried with a short backoff, and a clip cut off mid-way is sent again whole.
Wire format: `protocol.py`.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DistillError
from . import DEFAULT_PORT
from . import protocol as P

__all__ = ["DEFAULT_PORT", "Listener", "ListenerRefused", "ListenerUnreachable", "SendResult", "Sender"]
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
MIN_TRANSFER_RATE = 256 * 1024  # bytes/s averaged over a clip: a slower client is dropped (bounds a slow-loris sender)
CLIP_DEADLINE_FLOOR_S = 10.0  # every clip may take at least this long, however small
MAX_CONNECTIONS = 32
PRE_TOKEN_BYTES = P.HELLO.size + P.MAX_TOKEN_BYTES  # all that is read from a client before its token is checked


class ListenerUnreachable(DistillError):
    """No listener answered at the configured address (tunnel down, listener not running)."""


class ListenerRefused(DistillError):
    """The listener answered and refused the request (wrong token, clip too large, ...)."""


def ssh_command(port: int, remote: str = "user@remote-host") -> str:
    """The line that forwards the remote box's 127.0.0.1:PORT to this machine's listener."""
    return f"ssh -R {port}:127.0.0.1:{port} {remote}"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _digest(token: bytes) -> bytes:
    # Hash first so that compare_digest sees equal lengths and the token's length does not leak.
    return hashlib.sha256(token).digest()


@dataclass
class ClipEvent:
    """What the listener did with one clip; `handoff_s` runs from its last byte arriving to playback start."""

    clip: P.Clip
    peer: str
    first_byte_at: float  # perf_counter() when the frame header arrived
    received_at: float  # perf_counter() when the last payload byte arrived
    playing_at: float  # perf_counter() when `on_clip` returned (the audio was with the player)
    saved: Path | None

    @property
    def handoff_s(self) -> float:
        return self.playing_at - self.received_at


class Listener:
    """A loopback TCP server that plays (and optionally saves) the clips a remote distill-tui sends.

    `on_clip(clip)` starts playback (with `--no-play` it does nothing: that moment is still recorded as the
    hand-off to the device); `on_stop()` fades out. `log` gets one line per event.
    """

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        on_clip: Callable[[P.Clip], None] | None = None,
        on_stop: Callable[[], None] | None = None,
        on_event: Callable[[ClipEvent], None] | None = None,
        save_to: str | Path | None = None,
        max_payload: int = P.MAX_PAYLOAD_BYTES,
        handshake_timeout: float = 5.0,
        idle_timeout: float = 5.0,
        max_connections: int = MAX_CONNECTIONS,
        min_transfer_rate: float = MIN_TRANSFER_RATE,
        clip_deadline_floor: float = CLIP_DEADLINE_FLOOR_S,
        log: Callable[[str], None] = print,
    ) -> None:
        raw = token.encode("utf-8")
        if not 1 <= len(raw) <= P.MAX_TOKEN_BYTES:
            raise DistillError(f"the token must be 1..{P.MAX_TOKEN_BYTES} bytes")
        self._token_digest = _digest(raw)
        self.host, self.port = host, port
        self.on_clip, self.on_stop, self.on_event = on_clip, on_stop, on_event
        self.save_to = None if save_to is None else Path(save_to)
        self.max_payload = max_payload
        self.handshake_timeout, self.idle_timeout = handshake_timeout, idle_timeout
        self.max_connections = max(1, max_connections)
        self.max_inflight = 2 * max_payload  # bytes of payload being received at once, all clients together
        self._inflight = 0
        self.min_transfer_rate, self.clip_deadline_floor = min_transfer_rate, clip_deadline_floor
        self.log = log
        self.clips = 0
        self._sock: socket.socket | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()  # guards _clients
        self._act = threading.Lock()  # one clip at a time is played, saved and counted
        self._clients: dict[socket.socket, _Client] = {}

    def clip_deadline(self, payload_bytes: int) -> float:
        """Seconds a clip of `payload_bytes` may take to arrive whole: the floor, or the size at the minimum rate."""
        return max(self.clip_deadline_floor, payload_bytes / self.min_transfer_rate)

    def bind(self) -> tuple[str, int]:
        """Bind and listen; returns the actual (host, port) (port 0 picks a free one)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            hint = (": another listener (or program) has this port; stop it, or choose another with --port"
                    if exc.errno == errno.EADDRINUSE else "")
            raise DistillError(f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}){hint}") from exc
        sock.listen(8)
        sock.settimeout(0.25)  # so serve_forever notices close()
        self._sock = sock
        self.port = sock.getsockname()[1]
        return self.host, self.port

    def serve_forever(self) -> None:
        """Accept clients until `close()`, each served in its own thread (at most `max_connections` at once)."""
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        while not self._closed.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    break
                raise
            peer = f"{addr[0]}:{addr[1]}"
            if not self._admit(conn, peer):
                continue
            threading.Thread(target=self._serve_client, args=(conn, peer), name=f"listen {peer}", daemon=True).start()

    def _admit(self, conn: socket.socket, peer: str) -> bool:
        """Take `conn` if a slot is free, or can be freed by dropping the oldest client without a token yet."""
        with self._lock:
            if len(self._clients) >= self.max_connections:
                waiting = [(c.since, s) for s, c in self._clients.items() if not c.authed]
                if not waiting:
                    conn.close()
                    self.log(f"{peer}: refused: {self.max_connections} clients already connected")
                    return False
                _, oldest = min(waiting, key=lambda pair: pair[0])
                self._clients.pop(oldest)
                _shut(oldest)
                self.log(f"{peer}: all {self.max_connections} slots taken; dropped the oldest client without a token")
            self._clients[conn] = _Client(since=time.monotonic())
        return True

    def _serve_client(self, conn: socket.socket, peer: str) -> None:
        try:
            self.handle(conn, peer)
        except Exception as exc:  # noqa: BLE001 - one bad client must never stop the listener
            self.log(f"{peer}: dropped ({type(exc).__name__}: {exc})")
        finally:
            with self._lock:
                self._clients.pop(conn, None)
            conn.close()

    @property
    def connections(self) -> int:
        """Clients connected now."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        """Stop accepting and drop every connected client."""
        self._closed.set()
        if self._sock is not None:
            self._sock.close()
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            _shut(conn)

    def handle(self, conn: socket.socket, peer: str) -> None:
        """Serve one connection: HELLO, then frames until the client closes, stalls, or sends bad input."""
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            deadline = time.monotonic() + self.handshake_timeout
            budget = [PRE_TOKEN_BYTES]

            def recv_hello(n: int) -> bytes:
                if n > budget[0]:  # cannot happen with a valid HELLO; a guard should the format grow
                    raise P.ProtocolError("hello longer than allowed before the token", P.BAD_HELLO)
                budget[0] -= n
                return _recv_exact(conn, n, deadline)

            token = P.read_hello(recv_hello)
            if not hmac.compare_digest(_digest(token), self._token_digest):
                raise P.ProtocolError("wrong token", P.BAD_TOKEN)
            with self._lock:
                if conn in self._clients:
                    self._clients[conn].authed = True
            conn.sendall(bytes([P.OK]))
            while self._serve_frame(conn, peer):
                pass
        except P.ProtocolError as exc:
            self.log(f"{peer}: refused: {exc}")
            _reply(conn, exc.status)
        except TimeoutError:
            self.log(f"{peer}: dropped: timed out")
        except ConnectionError as exc:
            self.log(f"{peer}: dropped: {exc}")
        except OSError as exc:  # closed under us by close() or by _admit making room
            self.log(f"{peer}: dropped: {exc.strerror or exc}")

    def _serve_frame(self, conn: socket.socket, peer: str) -> bool:
        """Read and act on one frame; False when the client closed the connection cleanly."""
        raw = bytearray(P.HEADER.size)
        try:
            if not _recv_into(conn, memoryview(raw), time.monotonic() + self.idle_timeout, allow_eof=True):
                return False
        except TimeoutError:
            return False  # an idle client: close, so the next one can be served
        first_byte_at = time.perf_counter()
        header = P.parse_header(bytes(raw), self.max_payload)
        if header.kind == P.KIND_STOP:
            if self.on_stop is not None:
                with self._act:
                    self.on_stop()
            conn.sendall(bytes([P.OK]))
            self.log(f"{peer}: stop")
            return True
        size = header.payload_bytes
        with self._lock:  # memory for clips on their way in, all clients together
            if self._inflight + size > self.max_inflight:
                raise P.ProtocolError(f"busy: {self._inflight} bytes of other clips are arriving", P.TOO_LARGE)
            self._inflight += size
        try:
            deadline = time.monotonic() + self.clip_deadline(size)
            name = _recv_exact(conn, header.name_len, deadline, self.idle_timeout) if header.name_len else b""
            payload = bytearray(size)
            _recv_into(conn, memoryview(payload), deadline, stall=self.idle_timeout)
            received_at = time.perf_counter()
            clip = P.decode_payload(header, payload, name)
            del payload
        finally:
            with self._lock:
                self._inflight -= size
        with self._act:
            return self._act_on(conn, peer, clip, header, first_byte_at, received_at)

    def _act_on(self, conn: socket.socket, peer: str, clip: P.Clip, header: P.FrameHeader,
                first_byte_at: float, received_at: float) -> bool:
        """Play, save, report and acknowledge one received clip (one clip at a time, under `_act`)."""
        try:
            if self.on_clip is not None:
                self.on_clip(clip)
            playing_at = time.perf_counter()
            saved = self._save(clip, header.sample_format) if self.save_to is not None else None
        except Exception as exc:  # noqa: BLE001 - the device or the disk failed; tell the sender, keep serving
            raise P.ProtocolError(f"could not play or save the clip ({exc})", P.FAILED) from exc
        self.clips += 1
        event = ClipEvent(clip, peer, first_byte_at, received_at, playing_at, saved)
        if self.on_event is not None:
            self.on_event(event)
        conn.sendall(bytes([P.OK]))  # after saving and reporting: an acknowledged clip is on disk
        channels = "mono" if clip.samples.shape[1] == 1 else f"{clip.samples.shape[1]} ch"
        note = f", saved {saved}" if saved else ""
        heard = f"playing {event.handoff_s * 1000:.2f} ms after receipt" if self.on_clip is not None else "not played"
        self.log(
            f"clip {self.clips}: {clip.name or 'untitled'}, {clip.seconds:.2f} s, {clip.sample_rate} Hz {channels}"
            f"{', loop' if clip.loop else ''}; {heard}{note}"
        )
        return True

    def _save(self, clip: P.Clip, sample_format: int) -> Path:
        from ..audio.io import save_audio  # noqa: PLC0415 - soundfile only when saving

        assert self.save_to is not None
        self.save_to.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.clips + 1:04d}-{_safe_name(clip.name)}"
        path = self.save_to / f"{stem}.wav"
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.save_to / f"{stem}-{suffix}.wav"
        bits = "float" if sample_format == P.FORMAT_FLOAT32 else "16"
        samples = clip.samples[:, 0] if clip.samples.shape[1] == 1 else clip.samples
        return save_audio(path, samples, clip.sample_rate, bits=bits)


@dataclass
class SendResult:
    """How a send went; times are seconds from `started` (the play request) or from the call."""

    first_sample_s: float  # until the first payload byte was handed to the socket
    total_s: float  # until the listener acknowledged the whole clip
    payload_bytes: int
    attempts: int


class Sender:
    """Sends clips (and stops) to a listener; one short connection per request, retried on failure."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        *,
        connect_timeout: float = 2.0,
        io_timeout: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.1,
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self.connect_timeout, self.io_timeout = connect_timeout, io_timeout
        self.retries, self.backoff_s = retries, backoff_s
        self._hello = P.encode_hello(token)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def send(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        name: str = "",
        loop: bool = False,
        started: float | None = None,
    ) -> SendResult:
        """Send a clip ((N,) or (N, C) float) as float32; returns when the listener has acknowledged it.

        Raises ListenerRefused when the listener says no, ListenerUnreachable when no attempt got through.
        """
        started = time.perf_counter() if started is None else started
        head, payload = P.encode_clip(samples, sample_rate, name=name, loop=loop)
        first: list[float] = []

        def transfer(conn: socket.socket) -> None:
            conn.sendall(head)
            sent = conn.send(payload[: 64 * 1024])
            first.append(time.perf_counter())
            conn.sendall(payload[sent:])

        attempts = self._request(transfer)
        return SendResult(first[-1] - started, time.perf_counter() - started, len(payload), attempts)

    def stop(self) -> None:
        """Ask the listener to fade out what it is playing."""
        stop = P.encode_stop()
        self._request(lambda conn: conn.sendall(stop))

    def _request(self, transfer: Callable[[socket.socket], None]) -> int:
        last: Exception | None = None
        for attempt in range(1, self.retries + 2):
            if attempt > 1:
                time.sleep(self.backoff_s * 2 ** (attempt - 2))
            try:
                with socket.create_connection((self.host, self.port), timeout=self.connect_timeout) as conn:
                    conn.settimeout(self.io_timeout)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conn.sendall(self._hello)
                    self._expect_ok(conn, "the token")
                    try:
                        transfer(conn)
                    except OSError:
                        self._refusal_during_send(conn)
                        raise
                    self._expect_ok(conn, "the clip")
                return attempt
            except ListenerRefused:
                raise
            except OSError as exc:  # refused, reset, timed out, closed early: try a fresh connection
                last = exc
        reason = getattr(last, "strerror", None) or str(last) or type(last).__name__
        raise ListenerUnreachable(
            f"no listener answered at {self.address} after {self.retries + 1} tries ({reason}); "
            f"is `distill-tui listen` running and the `ssh -R` tunnel up?"
        )

    def _refusal_during_send(self, conn: socket.socket) -> None:
        """A send failed: if the listener said why before closing (e.g. too large), raise that."""
        try:
            conn.settimeout(0.5)
            status = conn.recv(1)
        except OSError:
            return
        if status and status[0] != P.OK:
            text = P.STATUS_TEXT.get(status[0], f"status {status[0]}")
            raise ListenerRefused(f"the listener at {self.address} refused the clip: {text}")

    def _expect_ok(self, conn: socket.socket, what: str) -> None:
        status = conn.recv(1)
        if not status:
            raise ConnectionError("the listener closed the connection")
        if status[0] != P.OK:
            text = P.STATUS_TEXT.get(status[0], f"status {status[0]}")
            raise ListenerRefused(f"the listener at {self.address} refused {what}: {text}")


def _recv_exact(conn: socket.socket, n: int, deadline: float, stall: float | None = None) -> bytes:
    """Exactly n bytes before `deadline` (monotonic); EOF first raises ConnectionError."""
    buf = bytearray(n)
    _recv_into(conn, memoryview(buf), deadline, stall=stall)
    return bytes(buf)


def _recv_into(
    conn: socket.socket, view: memoryview, deadline: float, *, allow_eof: bool = False, stall: float | None = None
) -> int:
    """Fill `view` before `deadline`; with `stall`, also give up when no byte arrives for that many seconds.

    Raises TimeoutError on either limit, ConnectionError on EOF (except at the very start with `allow_eof`).
    """
    got = 0
    while got < len(view):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        conn.settimeout(remaining if stall is None else min(remaining, stall))
        n = conn.recv_into(view[got:])
        if n == 0:
            if allow_eof and got == 0:
                return 0
            raise ConnectionError(f"connection closed after {got} of {len(view)} bytes")
        got += n
    return got


@dataclass
class _Client:
    """A connected client: when it connected, and whether it has shown the token."""

    since: float
    authed: bool = False


def _shut(conn: socket.socket) -> None:
    """Wake the thread blocked on `conn` (its recv returns) and close it."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reply(conn: socket.socket, status: int) -> None:
    try:
        conn.settimeout(1.0)
        conn.sendall(bytes([status]))
    except OSError:
        pass


def _safe_name(name: str) -> str:
    """A label from the wire, reduced to a harmless file-name part. `play` sends file names: their own ending goes,
    as the clip is saved as a WAV ("take.codes.json" was saved as "…-take.codes.json.wav")."""
    name = re.sub(r"\.(codes\.json|wav|flac|ogg|mp3|aiff?)$", "", name, flags=re.IGNORECASE)
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60]
    return cleaned or "clip"
