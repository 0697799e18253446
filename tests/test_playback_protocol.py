"""The framed-PCM wire format: round trips, and refusal of every malformed part without other exceptions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_tui.playback import protocol as P


def _frame(header: bytes, payload: memoryview) -> tuple[P.FrameHeader, bytes, bytes]:
    """Split an encoded clip the way the listener reads it: header, name, payload."""
    parsed = P.parse_header(header[: P.HEADER.size])
    return parsed, header[P.HEADER.size :], bytes(payload)


def test_float32_round_trip_is_bit_exact():
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1.2, 1.2, size=(1000, 2)).astype(np.float32)  # out of range is kept as is
    head, payload = P.encode_clip(samples, 22050, name="kick é", loop=True)
    header, name, raw = _frame(head, payload)
    assert (header.sample_rate, header.channels, header.frames, header.loop) == (22050, 2, 1000, True)
    clip = P.decode_payload(header, raw, name)
    assert clip.name == "kick é" and clip.loop and clip.sample_rate == 22050
    assert clip.samples.dtype == np.float32 and np.array_equal(clip.samples, samples)
    assert clip.seconds == pytest.approx(1000 / 22050)


def test_mono_is_one_channel_and_payload_is_not_copied():
    samples = np.linspace(-1, 1, 64, dtype=np.float32)
    head, payload = P.encode_clip(samples, 16000)
    header, name, raw = _frame(head, payload)
    assert header.channels == 1 and name == b""
    assert np.shares_memory(np.frombuffer(payload, dtype=np.float32), samples)
    assert np.array_equal(P.decode_payload(header, raw).samples[:, 0], samples)


def test_int16_round_trip_within_one_step():
    samples = np.random.default_rng(1).uniform(-1, 1, size=500).astype(np.float32)
    head, payload = P.encode_clip(samples, 44100, sample_format=P.FORMAT_INT16)
    header, _, raw = _frame(head, payload)
    assert len(raw) == 1000
    assert np.abs(P.decode_payload(header, raw).samples[:, 0] - samples).max() <= 1 / 32767


def test_hello_round_trip_and_refusals():
    hello = P.encode_hello("s3cret")
    assert P.parse_hello(hello[:6]) == 6 and hello[6:] == b"s3cret"
    chunks = iter([hello[:6], hello[6:]])
    assert P.read_hello(lambda n: next(chunks)) == b"s3cret"
    with pytest.raises(P.ProtocolError) as err:
        P.parse_hello(b"HTTP/1")
    assert err.value.status == P.BAD_HELLO
    with pytest.raises(P.ProtocolError, match="version 2"):
        P.parse_hello(P.HELLO.pack(P.MAGIC, 2, 4))
    with pytest.raises(P.ProtocolError) as err:
        P.parse_hello(P.HELLO.pack(P.MAGIC, 1, 0))
    assert err.value.status == P.BAD_TOKEN
    with pytest.raises(P.ProtocolError):
        P.parse_hello(b"DST")
    with pytest.raises(ValueError):
        P.encode_hello("")
    with pytest.raises(ValueError):
        P.encode_hello("x" * 256)


@pytest.mark.parametrize(
    "fields, match",
    [
        ((b"CLIP", 999, 1, 1, 10, 0, 0), "sample rate"),
        ((b"CLIP", 400000, 1, 1, 10, 0, 0), "sample rate"),
        ((b"CLIP", 22050, 0, 1, 10, 0, 0), "channels"),
        ((b"CLIP", 22050, 9, 1, 10, 0, 0), "channels"),
        ((b"CLIP", 22050, 1, 3, 10, 0, 0), "sample format"),
        ((b"CLIP", 22050, 1, 1, 0, 0, 0), "no frames"),
        ((b"CLIP", 22050, 1, 1, 10, 2, 0), "flags"),
        ((b"CLIP", 22050, 1, 1, 10, 0, 256), "name"),
        ((b"JUNK", 22050, 1, 1, 10, 0, 0), "kind"),
        ((b"STOP", 0, 1, 0, 0, 0, 0), "STOP"),
    ],
)
def test_bad_headers_are_refused(fields, match):
    with pytest.raises(P.ProtocolError, match=match) as err:
        P.parse_header(P.HEADER.pack(*fields))
    assert err.value.status == P.BAD_HEADER


def test_oversize_is_refused_from_the_header_alone():
    huge = P.HEADER.pack(b"CLIP", 48000, 8, 1, 2**63, 0, 0)
    with pytest.raises(P.ProtocolError) as err:
        P.parse_header(huge)
    assert err.value.status == P.TOO_LARGE
    just = P.HEADER.pack(b"CLIP", 48000, 1, 1, 256, 0, 0)
    assert P.parse_header(just, max_payload=1024).payload_bytes == 1024
    with pytest.raises(P.ProtocolError):
        P.parse_header(just, max_payload=1023)


def test_stop_and_truncated_header():
    stop = P.parse_header(P.encode_stop())
    assert stop.kind == P.KIND_STOP and stop.payload_bytes == 0
    with pytest.raises(P.ProtocolError, match="truncated"):
        P.parse_header(P.encode_stop()[:20])


def test_payload_checks():
    header = P.parse_header(P.HEADER.pack(b"CLIP", 22050, 1, 1, 4, 0, 0))
    with pytest.raises(P.ProtocolError, match="payload of 12 bytes"):
        P.decode_payload(header, b"\0" * 12)
    nan = np.array([0, np.nan, 0, 0], dtype="<f4").tobytes()
    with pytest.raises(P.ProtocolError) as err:
        P.decode_payload(header, nan)
    assert err.value.status == P.BAD_PAYLOAD
    with pytest.raises(P.ProtocolError, match="UTF-8"):
        P.decode_payload(header, b"\0" * 16, b"\xff\xfe")


def test_encode_refuses_what_cannot_be_framed():
    with pytest.raises(ValueError):
        P.encode_clip(np.zeros(0, np.float32), 22050)
    with pytest.raises(ValueError):
        P.encode_clip(np.zeros((10, 9), np.float32), 22050)
    with pytest.raises(ValueError):
        P.encode_clip(np.zeros(10, np.float32), 500)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=P.HEADER.size, max_size=P.HEADER.size))
def test_any_header_bytes_parse_or_raise_protocol_error(raw):
    try:
        header = P.parse_header(raw, max_payload=1 << 20)
    except P.ProtocolError as exc:
        assert exc.status in P.STATUS_TEXT
    else:
        assert header.payload_bytes <= 1 << 20


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=P.HELLO.size, max_size=P.HELLO.size))
def test_any_hello_bytes_parse_or_raise_protocol_error(raw):
    try:
        assert 1 <= P.parse_hello(raw) <= 255
    except P.ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=P.HELLO.size, max_size=2 * P.HELLO.size + 300))
def test_before_the_token_is_checked_at_most_a_hello_is_read(stream):
    """Issue 16: whatever a client sends first, reading its HELLO asks for at most 6 + 255 bytes."""
    from distill_tui.playback.remote import PRE_TOKEN_BYTES

    asked: list[int] = []

    def recv_exact(n: int) -> bytes:
        asked.append(n)
        start = sum(asked[:-1])
        return stream[start : start + n].ljust(n, b"\0")

    try:
        P.read_hello(recv_exact)
    except P.ProtocolError:
        pass
    assert sum(asked) <= PRE_TOKEN_BYTES == P.HELLO.size + P.MAX_TOKEN_BYTES
