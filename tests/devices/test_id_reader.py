"""ID card reader (身份证阅读器): frames, the simulator, and the polling driver with reconnect."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.id_reader import (
    BAD_CHECKSUM,
    CARD_FOUND,
    FIND_CARD,
    NO_CARD,
    OK,
    READ_TEXT,
    SELECT_CARD,
    FrameError,
    IdCard,
    IdReader,
    checksum,
    decode_read_data,
    encode_read_data,
    encode_request,
    encode_response,
    split_frame,
)
from drivers.id_reader_sim import IdReaderSimulator

CARD = IdCard("王秀英", "女", date(1950, 3, 1), "110101195003010029", "北京市东城区东华门街道")


def test_request_frame_layout():
    frame = encode_request(*FIND_CARD)
    assert frame.hex(" ") == "aa aa aa 96 69 00 03 20 01 22"  # LEN 3, CHK = 00^03^20^01
    body, rest = split_frame(frame)
    assert body == bytes([0x20, 0x01]) and rest == b""


def test_split_frame_skips_noise_waits_for_the_rest_and_rejects_bad_checksums():
    frame = encode_response(OK, b"\x01\x02")
    body, rest = split_frame(b"\x00\xff" + frame[:6])
    assert body is None and rest == frame[:6]
    body, rest = split_frame(rest + frame[6:] + frame[:3])
    assert body == b"\x00\x00\x90\x01\x02" and rest == frame[:3]
    broken = frame[:-1] + bytes([frame[-1] ^ 1])
    with pytest.raises(FrameError):
        split_frame(broken)


names = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=15)


@given(names, st.sampled_from(["男", "女"]), st.dates(date(1900, 1, 1), date(2026, 1, 1)),
       st.text(alphabet="0123456789X", min_size=18, max_size=18), names)
def test_card_text_round_trip(name, sex, birth, number, address):
    card = IdCard(name, sex, birth, number, address)
    assert decode_read_data(encode_read_data(card)) == card


def test_age_counts_birthdays():
    assert CARD.age_on(date(2010, 2, 28)) == 59 and CARD.age_on(date(2010, 3, 1)) == 60


def test_simulator_answers_like_a_reader():
    sim = IdReaderSimulator()
    assert split_frame(sim.reply(bytes(FIND_CARD)))[0][2] == NO_CARD
    sim.swipe(CARD)
    assert split_frame(sim.reply(bytes(FIND_CARD)))[0][2] == CARD_FOUND
    assert split_frame(sim.reply(bytes(SELECT_CARD)))[0][2] == OK
    body, _ = split_frame(sim.reply(bytes(READ_TEXT)))
    assert body[2] == OK and decode_read_data(body[3:]) == CARD
    assert split_frame(sim.reply(bytes(FIND_CARD)))[0][2] == NO_CARD  # the card was taken away
    assert checksum(b"\x00\x03\x20\x01") == 0x22


async def _wait(predicate, timeout=3.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def test_driver_reads_swipes_and_reconnects_after_the_reader_comes_back():
    async def scenario():
        sim = await IdReaderSimulator().start()
        cards: list[IdCard] = []
        reader = IdReader(sim.url, cards.append, poll_s=0.02)
        await reader.start()
        try:
            await _wait(lambda: reader.connected)
            sim.swipe(CARD)
            await _wait(lambda: cards == [CARD])
            port = sim.port
            await sim.close()  # unplugged
            await _wait(lambda: not reader.connected)
            sim = await IdReaderSimulator(port=port).start()  # plugged back in
            await _wait(lambda: reader.connected)
            other = IdCard("李四", "男", date(1990, 5, 6), "11010119900506001X", "北京市")
            sim.swipe(other)
            await _wait(lambda: len(cards) == 2)
            assert cards[1] == other
        finally:
            await reader.close()
            await sim.close()

    asyncio.run(scenario())


def test_driver_drops_a_corrupted_reply_and_recovers():
    async def scenario():
        sim = await IdReaderSimulator().start()
        cards: list[IdCard] = []
        reader = IdReader(sim.url, cards.append, poll_s=0.02)
        original = sim.reply
        corrupt = {"left": 1}

        def noisy(body: bytes) -> bytes:
            frame = original(body)
            if corrupt["left"] and body[:2] == bytes(READ_TEXT):
                corrupt["left"] -= 1
                return frame[:-1] + bytes([frame[-1] ^ 0xFF])
            return frame

        sim.reply = noisy
        await reader.start()
        try:
            sim.swipe(CARD)
            await _wait(lambda: corrupt["left"] == 0)
            sim.swipe(CARD)  # the citizen tries again after the failed read
            await _wait(lambda: cards == [CARD])
        finally:
            await reader.close()
            await sim.close()

    asyncio.run(scenario())


def test_bad_checksum_request_gets_the_checksum_status():
    async def scenario():
        sim = await IdReaderSimulator().start()
        r, w = await asyncio.open_connection(sim.host, sim.port)
        bad = bytearray(encode_request(*FIND_CARD))
        bad[-1] ^= 0x55
        w.write(bytes(bad))
        await w.drain()
        data = await asyncio.wait_for(r.read(64), 2)
        w.close()
        await sim.close()
        return split_frame(data)[0]

    assert asyncio.run(scenario())[2] == BAD_CHECKSUM
