"""The framed-PCM wire format between a remote distill-tui (sender) and `distill-tui listen` (listener).

All integers are little-endian. One TCP connection carries one HELLO, then any number of frames.

    HELLO (sender -> listener, once, first thing on the connection), 6 + n bytes:
        magic        4 bytes   b"DSTL"
        version      u8        1 (any other version is refused)
        token_len    u8        n, 1..255
        token        n bytes   UTF-8; compared in constant time with the listener's token

    REPLY (listener -> sender), 1 byte, after the HELLO and after every frame:
        0 OK, 1 BAD_TOKEN, 2 BAD_HELLO (magic or version), 3 BAD_HEADER, 4 TOO_LARGE,
        5 BAD_PAYLOAD (NaN/Inf samples), 6 FAILED (the listener could not play or save it).
        Any reply but OK is followed by the listener closing the connection.

    FRAME HEADER (sender -> listener), 24 bytes, struct "<4sIHHQHH":
        kind           4 bytes  b"CLIP" (audio follows) or b"STOP" (fade out what is playing; all fields 0)
        sample_rate    u32      1000..384000 Hz
        channels       u16      1..8
        sample_format  u16      1 = float32, 2 = int16 (samples scaled by 32767)
        frames         u64      >= 1; frames * channels * bytes per sample <= the listener's payload limit
        flags          u16      bit 0: loop until the next frame; other bits must be 0
        name_len       u16      0..255
    then  name       name_len bytes, UTF-8 (a label; the listener sanitizes it before using it in a file name)
    then  payload    frames * channels samples, interleaved (frame-major), in sample_format

The payload limit defaults to MAX_PAYLOAD_BYTES (64 MiB: 12 minutes of 22050 Hz mono float32). A header that
claims more is refused before a byte of its payload is read. The sender uses float32, so what the listener
receives (and saves with --save-to) is bit-exact.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAGIC = b"DSTL"
VERSION = 1
HELLO = struct.Struct("<4sBB")
HEADER = struct.Struct("<4sIHHQHH")
KIND_CLIP = b"CLIP"
KIND_STOP = b"STOP"
FLAG_LOOP = 1

FORMAT_FLOAT32 = 1
FORMAT_INT16 = 2
BYTES_PER_SAMPLE = {FORMAT_FLOAT32: 4, FORMAT_INT16: 2}
DTYPES = {FORMAT_FLOAT32: np.dtype("<f4"), FORMAT_INT16: np.dtype("<i2")}

MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
MAX_TOKEN_BYTES = 255
MAX_NAME_BYTES = 255
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000
MAX_CHANNELS = 8

OK, BAD_TOKEN, BAD_HELLO, BAD_HEADER, TOO_LARGE, BAD_PAYLOAD, FAILED = range(7)
STATUS_TEXT = {
    OK: "ok",
    BAD_TOKEN: "wrong token",
    BAD_HELLO: "not a distill-tui stream (bad magic or version)",
    BAD_HEADER: "malformed frame header",
    TOO_LARGE: "frame larger than the listener's limit",
    BAD_PAYLOAD: "samples are NaN or infinite",
    FAILED: "the listener could not play or save the clip",
}


class ProtocolError(Exception):
    """Input that breaks the wire format; `status` is the REPLY code to send back before closing."""

    def __init__(self, message: str, status: int = BAD_HEADER) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FrameHeader:
    """A validated frame header. For STOP frames every number is 0."""

    kind: bytes
    sample_rate: int
    channels: int
    sample_format: int
    frames: int
    flags: int
    name_len: int

    @property
    def loop(self) -> bool:
        return bool(self.flags & FLAG_LOOP)

    @property
    def payload_bytes(self) -> int:
        if self.kind != KIND_CLIP:
            return 0
        return self.frames * self.channels * BYTES_PER_SAMPLE[self.sample_format]


@dataclass
class Clip:
    """A received clip: (frames, channels) float32 samples and what the header said about them."""

    samples: np.ndarray  # (frames, channels) float32
    sample_rate: int
    name: str
    loop: bool

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


# ---- sender side -------------------------------------------------------------------------------


def encode_hello(token: str) -> bytes:
    """The HELLO bytes for `token` (1..255 bytes of UTF-8)."""
    raw = token.encode("utf-8")
    if not 1 <= len(raw) <= MAX_TOKEN_BYTES:
        raise ValueError(f"token must be 1..{MAX_TOKEN_BYTES} bytes of UTF-8, got {len(raw)}")
    return HELLO.pack(MAGIC, VERSION, len(raw)) + raw


def encode_stop() -> bytes:
    """A STOP frame: the listener fades out whatever it is playing."""
    return HEADER.pack(KIND_STOP, 0, 0, 0, 0, 0, 0)


def encode_clip(
    samples: np.ndarray,
    sample_rate: int,
    *,
    name: str = "",
    loop: bool = False,
    sample_format: int = FORMAT_FLOAT32,
) -> tuple[bytes, memoryview]:
    """(header + name, payload) for a clip of (N,) or (N, C) samples in [-1, 1].

    The payload is a view of a little-endian copy of the samples (no copy at all when `samples` is
    already C-contiguous little-endian float32), so sending can start at once.
    """
    data = np.asarray(samples)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] < 1 or not 1 <= data.shape[1] <= MAX_CHANNELS:
        raise ValueError(
            f"samples must be (N,) or (N, C) with N >= 1 and C <= {MAX_CHANNELS}, got {data.shape}"
        )
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"sample rate {sample_rate} is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
    if sample_format == FORMAT_FLOAT32:
        wire = np.ascontiguousarray(data, dtype="<f4")
    elif sample_format == FORMAT_INT16:
        wire = np.ascontiguousarray(np.round(np.clip(data, -1.0, 1.0) * 32767.0), dtype="<i2")
    else:
        raise ValueError(f"unknown sample format {sample_format}")
    label = name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").encode("utf-8")
    flags = FLAG_LOOP if loop else 0
    header = HEADER.pack(
        KIND_CLIP, sample_rate, wire.shape[1], sample_format, wire.shape[0], flags, len(label)
    )
    return header + label, memoryview(wire).cast("B")


# ---- listener side -----------------------------------------------------------------------------


def parse_hello(head: bytes) -> int:
    """Validate the fixed 6 bytes of a HELLO; return the token length that follows."""
    if len(head) != HELLO.size:
        raise ProtocolError("truncated hello", BAD_HELLO)
    magic, version, token_len = HELLO.unpack(head)
    if magic != MAGIC:
        raise ProtocolError("not a distill-tui stream (bad magic)", BAD_HELLO)
    if version != VERSION:
        raise ProtocolError(
            f"protocol version {version} is not supported (this listener speaks {VERSION})", BAD_HELLO
        )
    if token_len == 0:
        raise ProtocolError("empty token", BAD_TOKEN)
    return token_len


def parse_header(raw: bytes, max_payload: int = MAX_PAYLOAD_BYTES) -> FrameHeader:
    """Validate a 24-byte frame header. Raises ProtocolError (BAD_HEADER or TOO_LARGE)."""
    if len(raw) != HEADER.size:
        raise ProtocolError("truncated frame header")
    kind, rate, channels, fmt, frames, flags, name_len = HEADER.unpack(raw)
    header = FrameHeader(kind, rate, channels, fmt, frames, flags, name_len)
    if kind == KIND_STOP:
        if any((rate, channels, fmt, frames, flags, name_len)):
            raise ProtocolError("STOP frame with non-zero fields")
        return header
    if kind != KIND_CLIP:
        raise ProtocolError(f"unknown frame kind {kind!r}")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise ProtocolError(f"sample rate {rate} is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise ProtocolError(f"{channels} channels is outside 1..{MAX_CHANNELS}")
    if fmt not in BYTES_PER_SAMPLE:
        raise ProtocolError(f"unknown sample format {fmt}")
    if frames < 1:
        raise ProtocolError("clip with no frames")
    if flags & ~FLAG_LOOP:
        raise ProtocolError(f"unknown flags {flags:#x}")
    if name_len > MAX_NAME_BYTES:
        raise ProtocolError(f"name of {name_len} bytes is over {MAX_NAME_BYTES}")
    if header.payload_bytes > max_payload:
        raise ProtocolError(
            f"clip of {header.payload_bytes} bytes is over the limit of {max_payload}", TOO_LARGE
        )
    return header


def decode_payload(header: FrameHeader, payload: bytes | bytearray | memoryview, name: bytes = b"") -> Clip:
    """Turn a CLIP payload into float32 samples (frames, channels); refuse NaN/Inf."""
    if len(payload) != header.payload_bytes:
        raise ProtocolError(f"payload of {len(payload)} bytes, header said {header.payload_bytes}")
    raw = np.frombuffer(payload, dtype=DTYPES[header.sample_format]).reshape(header.frames, header.channels)
    if header.sample_format == FORMAT_FLOAT32:
        samples = raw.astype(np.float32)  # a native-order, writable copy
        if not np.isfinite(samples).all():
            raise ProtocolError("samples are NaN or infinite", BAD_PAYLOAD)
    else:
        samples = raw.astype(np.float32) / 32767.0
    try:
        label = bytes(name).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("clip name is not UTF-8") from exc
    return Clip(samples=samples, sample_rate=header.sample_rate, name=label, loop=header.loop)


def read_hello(recv_exact: Callable[[int], bytes]) -> bytes:
    """Read and validate a HELLO with `recv_exact(n)`; return the token bytes (not yet compared)."""
    token_len = parse_hello(recv_exact(HELLO.size))
    return recv_exact(token_len)
