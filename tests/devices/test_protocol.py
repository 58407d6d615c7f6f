"""Framing, CRC, payload codecs and the streaming parser of drivers.protocol."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.protocol import (
    HEADER,
    MAX_PAYLOAD,
    REPLY,
    Cmd,
    DeviceType,
    Frame,
    FrameParser,
    Identity,
    Invite,
    Key,
    KeyEvent,
    Nak,
    NakReason,
    Outcome,
    ProtocolError,
    Rating,
    RatingReason,
    crc16_modbus,
    decode,
    decode_ack,
    decode_brightness,
    decode_display_text,
    decode_flag,
    decode_identity,
    decode_invite,
    decode_key_report,
    decode_lcd,
    decode_nak,
    decode_poll,
    decode_rating_report,
    decode_timeout_report,
    encode,
    encode_brightness,
    encode_display_text,
    encode_flag,
    encode_identity,
    encode_invite,
    encode_key_report,
    encode_lcd,
    encode_nak,
    encode_poll,
    encode_rating_report,
    encode_timeout_report,
    line_time,
)


def test_crc_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    # a textbook Modbus RTU request: 01 03 00 00 00 01 → CRC bytes 84 0A on the wire
    assert crc16_modbus(bytes.fromhex("010300000001")).to_bytes(2, "little") == bytes.fromhex("840a")


def test_frame_layout() -> None:
    data = encode(Frame(0x05, 0x11, Cmd.POLL, encode_poll(0x1234)))
    assert data[:2] == HEADER
    assert data[2:8] == bytes((0x05, 0x11, 0x01, 2, 0x34, 0x12))
    assert int.from_bytes(data[-2:], "little") == crc16_modbus(data[2:-2])
    assert decode(data) == Frame(5, 0x11, Cmd.POLL, b"\x34\x12")


def test_decode_rejects_damage() -> None:
    data = encode(Frame(1, 1, Cmd.ACK | REPLY))
    for bad in (data[:-1], data + b"\x00", b"\x00" + data[1:], data[:-1] + bytes((data[-1] ^ 1,))):
        with pytest.raises(ProtocolError):
            decode(bad)


def test_frame_validation() -> None:
    with pytest.raises(ProtocolError):
        Frame(256, 0, 1)
    with pytest.raises(ProtocolError):
        Frame(1, 0, 1, bytes(MAX_PAYLOAD + 1))
    reply = Frame(7, 9, Cmd.POLL).reply(Cmd.ACK)
    assert (reply.addr, reply.seq, reply.is_reply, reply.command) == (7, 9, True, Cmd.ACK)


KEY_EVENTS = [
    KeyEvent(Key.CALL_NEXT),
    KeyEvent(Key.RECALL),
    KeyEvent(Key.SKIP),
    KeyEvent(Key.TRANSFER, category="market"),
    KeyEvent(Key.TRANSFER, window=12),
    KeyEvent(Key.PAUSE),
    KeyEvent(Key.RESUME),
    *(KeyEvent(Key.FINISH, outcome=o) for o in Outcome),
    KeyEvent(Key.SIGN_IN, staff_id="A1024", pin="482913"),
    KeyEvent(Key.SIGN_OUT),
    KeyEvent(Key.NEXT, outcome=Outcome.PROMISED),
]


@pytest.mark.parametrize("event", KEY_EVENTS, ids=lambda e: f"{e.key.name}")
def test_key_report_round_trip(event: KeyEvent) -> None:
    payload = encode_key_report(513, event)
    frame = decode(encode(Frame(3, 40, Cmd.KEY_EVENT | REPLY, payload)))
    assert decode_key_report(frame.payload) == (513, event)


ROUND_TRIPS = [
    (Cmd.POLL, encode_poll, decode_poll, 0),
    (Cmd.POLL, encode_poll, decode_poll, 65535),
    (Cmd.NAK, encode_nak, decode_nak, Nak(NakReason.REJECTED, 77)),
    (Cmd.NAK, encode_nak, decode_nak, Nak(NakReason.UNKNOWN_COMMAND)),
    (Cmd.IDENTIFY, encode_identity, decode_identity, Identity(DeviceType.PAD, "PJ-200 v2.1")),
    (Cmd.KEYPAD_LCD, encode_lcd, decode_lcd, "请A012号\n到3号窗口"),
    (Cmd.DISPLAY_TEXT, encode_display_text, decode_display_text, ("A012", "请到3号窗口办理")),
    (Cmd.DISPLAY_TEXT, encode_display_text, decode_display_text, ("甲", "乙", "丙", "丁" * 24)),
    (Cmd.DISPLAY_PAUSED, encode_flag, decode_flag, True),
    (Cmd.DISPLAY_PAUSED, encode_flag, decode_flag, False),
    (Cmd.DISPLAY_BRIGHTNESS, encode_brightness, decode_brightness, 40),
    (Cmd.PAD_INVITE, encode_invite, decode_invite, Invite("A012", 3, "1024", "张晓明", 90)),
    (Cmd.PAD_INVITE, encode_invite, decode_invite, Invite("A012", 3, "1024", "张晓明", 60, "QH20*****0002", "居民身份证补领")),
    (Cmd.PAD_RESULT, lambda r: encode_rating_report(9, r), decode_rating_report, Rating("A012", 1)),
    (Cmd.PAD_RESULT, lambda r: encode_rating_report(9, r), decode_rating_report, Rating("B7", 5, RatingReason.SLOW)),
    (Cmd.PAD_TIMEOUT, lambda t: encode_timeout_report(10, t), decode_timeout_report, "A012"),
]


@pytest.mark.parametrize(("cmd", "enc", "dec", "value"), ROUND_TRIPS, ids=lambda v: getattr(v, "name", None))
def test_payload_round_trip(cmd: Cmd, enc, dec, value) -> None:  # type: ignore[no-untyped-def]
    frame = decode(encode(Frame(9, 200, cmd | REPLY, enc(value))))
    decoded = dec(frame.payload)
    if cmd in (Cmd.PAD_RESULT, Cmd.PAD_TIMEOUT):
        decoded = decoded[1]
    assert decoded == value


def test_empty_payload_commands() -> None:
    for cmd in (Cmd.ACK, Cmd.IDENTIFY, Cmd.DISPLAY_CLEAR, Cmd.PAD_CANCEL):
        frame = decode(encode(Frame(1, 1, cmd)))
        assert frame.command == cmd and frame.payload == b""
    decode_ack(b"")
    with pytest.raises(ProtocolError):
        decode_ack(b"\x00")


def test_outcome_codes_match_hall_names() -> None:
    assert [o.code for o in Outcome] == [
        "immediate", "promised", "supplement", "returned", "consult", "joint", "escalated"
    ]
    assert Rating("A1", 1).label == "非常满意" and Rating("A1", 5).label == "非常不满意"


@pytest.mark.parametrize(
    "make",
    [
        lambda: KeyEvent(Key.FINISH),  # outcome missing
        lambda: KeyEvent(Key.CALL_NEXT, outcome=Outcome.IMMEDIATE),  # argument not allowed
        lambda: KeyEvent(Key.TRANSFER),  # no target
        lambda: KeyEvent(Key.TRANSFER, category="a", window=2),  # two targets
        lambda: KeyEvent(Key.TRANSFER, window=0),
        lambda: KeyEvent(Key.SIGN_IN, staff_id="1024", pin="12"),  # PIN too short
        lambda: KeyEvent(Key.SIGN_IN, staff_id="10 24", pin="1234"),
        lambda: KeyEvent(99),  # type: ignore[arg-type]
        lambda: Rating("A1", 0),
        lambda: Rating("A1", 6),
        lambda: Rating("A1", 2, RatingReason.SLOW),  # reasons only for 不满意 / 非常不满意
        lambda: Invite("A1", 3, "1024", "𠀀"),  # outside GBK
        lambda: Invite("A1", 0, "1024", "张三"),
        lambda: encode_display_text([]),
        lambda: encode_display_text(["x" * 49]),
        lambda: encode_lcd("长" * 33),
        lambda: encode_brightness(101),
        lambda: encode_poll(70000),
    ],
)
def test_builders_validate(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError):
        make()


@pytest.mark.parametrize(
    ("dec", "payload"),
    [
        (decode_key_report, b""),
        (decode_key_report, b"\x01\x00"),  # no key
        (decode_key_report, b"\x00\x00\x01"),  # event id 0
        (decode_key_report, b"\x01\x00\x63"),  # unknown key
        (decode_key_report, b"\x01\x00\x07"),  # FINISH without outcome
        (decode_key_report, b"\x01\x00\x07\x09"),  # unknown outcome
        (decode_key_report, b"\x01\x00\x01\x00"),  # trailing byte
        (decode_key_report, b"\x01\x00\x04\x01\x05ab"),  # category shorter than its length
        (decode_key_report, b"\x01\x00\x04\x03\x01\x00"),  # unknown transfer target
        (decode_rating_report, b"\x01\x00\x06\x00\x02A1"),  # level 6
        (decode_rating_report, b"\x01\x00\x01\x00\x02\xff\xff"),  # ticket not GBK
        (decode_timeout_report, b"\x01\x00\x00"),  # empty ticket
        (decode_display_text, b"\x00"),
        (decode_display_text, b"\x05\x00\x00\x00\x00\x00"),
        (decode_flag, b"\x02"),
        (decode_brightness, b"\xc8"),
        (decode_nak, b"\x09\x00\x00"),
        (decode_identity, b"\x07abc"),
        (decode_invite, b"\x02A1\x00\x00\x041024\x02\xd5\xc5\x3c"),  # window 0
        (decode_invite, b"\x02A1\x01\x00\x041024\x02\xd5\xc5\x3c\x04QH01"),  # 办件 without its matter
        (decode_invite, b"\x02A1\x01\x00\x041024\x02\xd5\xc5\x3c\x00\x00"),  # an empty 办件编号
        (decode_poll, b"\x01"),
    ],
)
def test_decoders_are_strict(dec, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError):
        dec(payload)


def test_line_time() -> None:
    assert line_time(16) == pytest.approx(0.01667, rel=1e-3)


# ---------------------------------------------------------------- parser

SAMPLE = [
    Frame(1, 1, Cmd.POLL, encode_poll(0)),
    Frame(2, 7, Cmd.DISPLAY_TEXT, encode_display_text(["A012", "请到3号窗口"])),
    Frame(3, 255, Cmd.KEY_EVENT | REPLY, encode_key_report(40000, KeyEvent(Key.NEXT, outcome=Outcome.JOINT))),
]


def test_parser_split_reads_and_noise() -> None:
    parser = FrameParser()
    stream = b"\x00\xff\xaa" + b"".join(encode(f) + b"\x13\xaa\x55\x01" for f in SAMPLE)
    frames = [f for byte in stream for f in parser.feed(bytes((byte,)))]
    assert frames == SAMPLE
    assert parser.stats.frames_ok == 3


def test_parser_counts_bad_crc_and_length() -> None:
    parser = FrameParser()
    good = encode(SAMPLE[0])
    bad_crc = good[:-1] + bytes((good[-1] ^ 0x40,))
    bad_len = HEADER + bytes((1, 1, 1, MAX_PAYLOAD + 1))
    assert parser.feed(bad_crc + bad_len + good) == [SAMPLE[0]]
    assert parser.stats.crc_errors == 1
    assert parser.stats.length_errors == 1
    assert parser.stats.dropped_bytes == len(bad_crc) + len(bad_len)


def test_parser_does_not_wait_on_a_false_header() -> None:
    # noise announcing a long frame must not hold back the valid reply that follows it
    parser = FrameParser()
    assert parser.feed(HEADER + bytes((1, 2, 3, 150)) + encode(SAMPLE[2])) == [SAMPLE[2]]
    assert parser.stats.truncated == 1


frames_st = st.builds(
    Frame,
    addr=st.integers(0, 255),
    seq=st.integers(0, 255),
    cmd=st.integers(0, 255),
    payload=st.binary(max_size=MAX_PAYLOAD),
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def _feed_all(parser: FrameParser, chunks: list[bytes]) -> list[Frame]:
    return [f for chunk in chunks for f in parser.feed(chunk)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 4000), max_size=30))
def test_fuzz_random_bytes(data: bytes, cuts: list[int]) -> None:
    parser = FrameParser()
    for frame in _feed_all(parser, _chunks(data, cuts)):
        assert encode(frame) in data  # only frames that were really there, CRC intact


@settings(max_examples=300, deadline=None)
@given(st.lists(frames_st, min_size=1, max_size=6), st.data())
def test_fuzz_corruption(frames: list[Frame], data: st.DataObject) -> None:
    stream = bytearray(b"".join(encode(f) for f in frames))
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(stream) - 1))
        stream[i] ^= data.draw(st.integers(1, 255))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    parser = FrameParser()
    for frame in _feed_all(parser, _chunks(bytes(stream), cuts)):
        assert encode(frame) in stream
    assert parser.stats.frames_ok <= len(frames) + 5


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=40), frames_st), min_size=1, max_size=8),
    st.binary(max_size=40),
    st.lists(st.integers(0, 10_000), max_size=40),
)
def test_fuzz_frames_in_noise_all_recovered(pieces: list[tuple[bytes, Frame]], tail: bytes, cuts: list[int]) -> None:
    stream = b"".join(noise + encode(frame) for noise, frame in pieces) + tail
    got = iter(_feed_all(FrameParser(), _chunks(stream, cuts)))
    # every sent frame comes out, in order; noise may at most add frames of its own
    assert all(any(g == frame for g in got) for _, frame in pieces)
