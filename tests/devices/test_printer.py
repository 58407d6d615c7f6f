"""Ticket printer: ticket layout (golden text dumps), GBK text, status over the simulator, failures.

Regenerate the golden files after an intended layout change:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/devices/test_printer.py -k golden
"""

from __future__ import annotations

import dataclasses
import os
import socket
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drivers.escpos_decode import QR, Cut, Size, Text, decode_text, parse, render_png
from drivers.printer import (
    FS_CHINESE_ON,
    TicketPrint,
    TicketPrinter,
    encode_gbk,
    parse_spec,
    render_ticket,
    text_width,
    wrap,
)
from drivers.printer_sim import PrinterSimulator

GOLDEN = Path(__file__).parent / "golden"

TICKET = TicketPrint(
    hall_name="清河县政务服务中心",
    number="A012",
    service_name="户籍迁移",
    category_name="公安户政",
    issued_at=datetime(2025, 3, 14, 9, 32, 7),
    wait_text=("您前面还有 3 人，", "预计等候约 12 分钟"),
    status_url="https://zwfw.qinghe.gov.cn/q/A012?d=20250314",
    materials=[
        ("居民身份证", True),
        ("居民户口簿", True),
        ("准予迁入证明（准迁证）", True),
        ("结婚证（夫妻投靠时提供）", False),
    ],
    priority_label="老年人优先",
    window_hint="请留意 1-6 号综合窗口",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- layout ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 58])
def test_golden_ticket(width: int) -> None:
    text = decode_text(render_ticket(dataclasses.replace(TICKET, paper_width=width)))
    golden = GOLDEN / f"ticket_{width}mm.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 58])
def test_ticket_content(width: int) -> None:
    text = decode_text(render_ticket(dataclasses.replace(TICKET, paper_width=width)))
    assert text.startswith("[INIT][CN]")
    assert text.endswith("[CUT]\n")
    for expected in [
        "清河县政务服务中心", "A012", "户籍迁移", "公安户政", "取号时间：2025-03-14 09:32", "【老年人优先】",
        "请留意 1-6 号综合窗口", "[QR:https://zwfw.qinghe.gov.cn/q/A012?d=20250314]", "【一次性告知】",
        "请留意叫号，过号请至服务台",
    ]:
        assert expected in text
    assert "?" not in text.replace("?d=", "")
    for name, mark in [("居民身份证", "必交"), ("结婚证（夫妻投靠时提供）", "容缺")]:
        row = next(line for line in text.splitlines() if name in line).removeprefix("[/bold]")
        assert row.startswith("□ ") and row.endswith(mark)


def test_wait_line_fits_80mm_and_splits_at_the_comma_on_58mm() -> None:
    wide = decode_text(render_ticket(TICKET))
    narrow = decode_text(render_ticket(dataclasses.replace(TICKET, paper_width=58)))
    assert "您前面还有 3 人，预计等候约 12 分钟\n" in wide
    assert "您前面还有 3 人，\n预计等候约 12 分钟\n" in narrow


@pytest.mark.parametrize("width,columns", [(80, 48), (58, 32)])
def test_printed_lines_fit_the_paper(width: int, columns: int) -> None:
    data = render_ticket(dataclasses.replace(TICKET, paper_width=width))
    size = 1
    for op in parse(data):
        if isinstance(op, Size):
            size = op.width
        if isinstance(op, Text):
            assert sum(2 if w else 1 for w in op.wide) * size <= columns, op.text


@pytest.mark.parametrize("text", ["A012", "：", "——", "A012：——", "1–6 号", "¥25", "（容缺）"])
def test_non_hanzi_strings_round_trip_in_gbk(text: str) -> None:
    decoded = decode_text(FS_CHINESE_ON + encode_gbk(text))
    assert "?" not in decoded
    assert decoded == "[CN]" + text.replace("¥", "￥")


def test_text_outside_gbk_is_replaced_not_fatal() -> None:
    assert encode_gbk("𠮷€") == b"??"
    assert encode_gbk("A\x1bB\x1dV\x00") == b"A B V "  # control bytes in data never reach the printer
    ticket = dataclasses.replace(TICKET, hall_name="𠮷城\x1b@政务中心", service_name="€")
    text = decode_text(render_ticket(ticket))
    assert "?城 @政务中心" in text
    assert text.count("[INIT]") == 1


@given(st.text(), st.integers(min_value=4, max_value=48))
def test_wrap_keeps_within_width_and_keeps_all_text(text: str, columns: int) -> None:
    lines = wrap(text, columns)
    assert all(text_width(line) <= columns for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())


@settings(max_examples=50, deadline=None)
@given(
    st.text(), st.text(max_size=12), st.text(), st.text(max_size=30), st.text(max_size=30),
    st.lists(st.tuples(st.text(), st.booleans()), max_size=5), st.sampled_from([80, 58]),
)
def test_render_ticket_accepts_any_text(
    name: str, number: str, service: str, ahead: str, wait: str, materials: list, width: int
) -> None:
    ticket = dataclasses.replace(
        TICKET, hall_name=name, number=number, service_name=service, wait_text=(ahead, wait),
        materials=materials, paper_width=width,
    )
    ops = list(parse(render_ticket(ticket)))
    assert isinstance(ops[-1], Cut)
    assert [op.payload for op in ops if isinstance(op, QR)] == [TICKET.status_url]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_decode_text_never_raises(data: bytes) -> None:
    decode_text(data)
    decode_text(FS_CHINESE_ON + data)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=200))
def test_render_png_never_raises(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    render_png(FS_CHINESE_ON + data, tmp_path_factory.mktemp("png") / "t.png", width_dots=384)


@pytest.mark.parametrize("width,dots", [(80, 576), (58, 384)])
def test_render_png_draws_the_ticket(tmp_path: Path, width: int, dots: int) -> None:
    out = tmp_path / "ticket.png"
    render_png(render_ticket(dataclasses.replace(TICKET, paper_width=width)), out, width_dots=dots)
    image = Image.open(out).convert("L")
    assert image.width > dots and image.height > 900
    dark = sum(image.histogram()[:100])
    assert dark > 20_000  # Hanzi, the big number and the QR code, not a blank strip


# --- connection specs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,kind,target,number",
    [
        ("serial:/dev/ttyUSB0?baud=9600", "serial", "/dev/ttyUSB0", 9600),
        ("serial:/dev/serial/by-id/usb-FTDI-if00", "serial", "/dev/serial/by-id/usb-FTDI-if00", 9600),
        ("socket://127.0.0.1:9100", "socket", "127.0.0.1", 9100),
        ("usb:0x0416:0x5011", "usb", "0x0416:0x5011", 0),
        ("file:/dev/usb/lp0", "file", "/dev/usb/lp0", 0),
        ("dummy:", "dummy", "", 0),
    ],
)
def test_parse_spec(spec: str, kind: str, target: str, number: int) -> None:
    c = parse_spec(spec)
    assert (c.kind, c.target, c.number) == (kind, target, number)


@pytest.mark.parametrize("spec", ["", "lp0", "socket://host", "serial:", "serial:/dev/x?baud=fast", "usb:12", "dummy:x"])
def test_malformed_spec_is_rejected_at_configuration(spec: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        TicketPrinter(spec)


# --- over the simulator ------------------------------------------------------------------------------------

# status_timeout: a printer that answers is never waited out, so a reply the test needs gets ANSWER (room for a
# loaded machine); SILENT is for a printer that must stay silent, whose outcome ("unknown") is the expected one.
# FALLBACK is for "auto" on a printer without DLE EOT: one timeout both waits out the silent DLE EOT and must
# catch the GS r reply (a reply takes milliseconds even with every core busy).
ANSWER, SILENT, FALLBACK = 5.0, 0.2, 1.0


@pytest.fixture
def sim():
    with PrinterSimulator() as s:
        yield s


@pytest.fixture
def printer(sim: PrinterSimulator):
    with TicketPrinter(sim.url, status_timeout=ANSWER) as p:
        yield p


def jobs_until(sim: PrinterSimulator, marker: TicketPrint) -> list[bytes]:
    """Every job up to the marker ticket, which the test prints after the action that must not print: one
    connection delivers in order, so a job that action had sent would be there before the marker."""
    jobs = sim.wait_for_jobs(1, timeout=10)
    while jobs and jobs[-1] != render_ticket(marker):
        more = sim.wait_for_jobs(len(jobs) + 1, timeout=10)
        if len(more) == len(jobs):
            break
        jobs = more
    assert jobs and jobs[-1] == render_ticket(marker), "the marker ticket never arrived"
    return jobs[:-1]


def test_prints_over_the_network(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    result = printer.print_ticket(TICKET)
    assert (result.ok, result.code, result.message) == (True, "ok", "已打印")
    assert result.status is not None and result.status.paper == "ok" and result.status.online
    jobs = sim.wait_for_jobs(1)
    assert len(jobs) == 1
    assert decode_text(jobs[0]) == decode_text(render_ticket(TICKET))
    assert b"\x10\x04" not in jobs[0]  # status requests are answered, not printed


def test_two_tickets_are_two_jobs(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    assert printer.print_ticket(TICKET).ok
    assert printer.print_ticket(dataclasses.replace(TICKET, number="A013")).ok
    jobs = sim.wait_for_jobs(2)
    assert ["A013" in decode_text(job) for job in jobs] == [False, True]


def test_status_ok(printer: TicketPrinter) -> None:
    status = printer.status()
    assert (status.online, status.paper, status.cover_open, status.error) == (True, "ok", False, None)


def test_paper_near_end_still_prints_with_a_warning(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    sim.paper = "near_end"
    assert printer.status().paper == "near_end"
    result = printer.print_ticket(TICKET)
    assert result.ok and "即将用完" in result.message
    assert len(sim.wait_for_jobs(1)) == 1


def test_paper_out_refuses_the_print(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    sim.paper = "out"
    status = printer.status()
    assert (status.paper, status.online) == ("out", False)
    result = printer.print_ticket(TICKET)
    assert (result.ok, result.code) == (False, "paper_out")
    assert "打印纸已用完" in result.message
    sim.paper = "ok"  # a ticket that may print, on the same connection: no job may come before it
    later = dataclasses.replace(TICKET, number="A013")
    assert printer.print_ticket(later).ok
    assert jobs_until(sim, later) == []


def test_cover_open_refuses_the_print(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    sim.cover_open = True
    assert printer.status().cover_open is True
    result = printer.print_ticket(TICKET)
    assert (result.ok, result.code) == (False, "cover_open")


def test_cutter_error_refuses_the_print(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    sim.cutter_error = True
    status = printer.status()
    assert status.online is False and status.error and "故障" in status.error
    assert printer.print_ticket(TICKET).code == "printer_error"


def test_silent_printer_is_unknown_never_ok(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    sim.answering = False
    printer.status_timeout = SILENT
    status = printer.status()
    assert (status.online, status.paper, status.cover_open) == (None, "unknown", None)
    assert status.error == "打印机无应答，状态未知"
    # Unknown is not a reason to refuse: the ticket is still sent.
    assert printer.print_ticket(TICKET).ok
    assert len(sim.wait_for_jobs(1)) == 1
    sim.answering = True
    printer.status_timeout = ANSWER
    assert printer.status().paper == "ok"


@pytest.mark.parametrize("paper", ["ok", "near_end", "out"])
def test_a_printer_without_dle_eot_is_read_with_gs_r(sim: PrinterSimulator, paper: str) -> None:
    sim.status_commands = {"gs_r"}
    sim.paper = paper
    with TicketPrinter(sim.url, status_timeout=FALLBACK) as auto:
        status = auto.status()
        assert (status.online, status.paper, status.cover_open, status.error) == (True, paper, None, None)
        assert auto.status().paper == paper  # GS r straight away now: DLE EOT stayed silent on this connection
        result = auto.print_ticket(TICKET)
        assert result.code == ("paper_out" if paper == "out" else "ok")
        sim.paper = "ok"  # then a ticket that may print, on the same connection
        later = dataclasses.replace(TICKET, number="A013")
        assert auto.print_ticket(later).ok
    assert jobs_until(sim, later) == ([] if paper == "out" else [render_ticket(TICKET)])
    with TicketPrinter(sim.url, status_timeout=SILENT, status_query="dle_eot") as strict:
        assert (strict.status().online, strict.status().paper) == (None, "unknown")


def test_auto_asks_gs_r_only_after_a_silent_dle_eot_and_gs_r_alone_when_told(sim: PrinterSimulator) -> None:
    sim.paper = "near_end"
    sim.cover_open = True
    with TicketPrinter(sim.url, status_timeout=ANSWER) as auto:  # DLE EOT answers: its richer status is used
        assert (auto.status().paper, auto.status().cover_open) == ("near_end", True)
    with TicketPrinter(sim.url, status_timeout=ANSWER, status_query="gs_r") as gs_r:
        assert (gs_r.status().online, gs_r.status().paper, gs_r.status().cover_open) == (True, "near_end", None)
    sim.answering = False  # silent to both: unknown, never "ok"
    with TicketPrinter(sim.url, status_timeout=SILENT) as auto:
        status = auto.status()
        assert (status.online, status.paper, status.error) == (None, "unknown", "打印机无应答，状态未知")
    with pytest.raises(ValueError):
        TicketPrinter(sim.url, status_query="esc_v")  # type: ignore[arg-type]


def test_status_requests_are_answered_not_printed(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    assert printer.print_ticket(TICKET).ok
    with TicketPrinter(sim.url, status_timeout=ANSWER, status_query="gs_r") as gs_r:
        assert gs_r.print_ticket(TICKET).ok
    jobs = sim.wait_for_jobs(2)
    assert len(jobs) == 2 and all(b"\x10\x04" not in job and b"\x1dr\x01" not in job for job in jobs)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_unplug_gives_results_not_exceptions(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    assert printer.print_ticket(TICKET).ok
    sim.unplug()
    status = printer.status()
    assert status.online is False and status.paper == "unknown"
    result = printer.print_ticket(TICKET)
    assert (result.ok, result.code) == (False, "connect_failed")
    printer.close()
    printer.close()


def test_reconnects_when_the_printer_comes_back(sim: PrinterSimulator, printer: TicketPrinter) -> None:
    assert printer.print_ticket(TICKET).ok
    port = sim.port
    sim.unplug()
    assert printer.print_ticket(TICKET).code == "connect_failed"
    with PrinterSimulator(port=port) as back:
        result = printer.print_ticket(TICKET)
        assert result.ok, result.message
        assert len(back.wait_for_jobs(1)) == 1


def test_stale_connection_is_replaced_transparently(printer: TicketPrinter, sim: PrinterSimulator) -> None:
    assert printer.status().online
    port = sim.port
    sim.unplug()
    with PrinterSimulator(port=port) as back:
        back.paper = "near_end"
        assert printer.status().paper == "near_end"


# --- failed connections ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "spec",
    [
        f"socket://127.0.0.1:{_free_port()}",
        "serial:/dev/does-not-exist?baud=9600",
        "file:/does/not/exist/lp0",
        "usb:0x0416:0x5011",
    ],
)
def test_failed_connection_is_a_result(spec: str) -> None:
    with TicketPrinter(spec, status_timeout=0.2) as p:
        result = p.print_ticket(TICKET)
        assert (result.ok, result.code) == (False, "connect_failed")
        assert result.message.startswith("无法连接打印机")
        status = p.status()
        assert (status.online, status.paper) == (False, "unknown")


def test_file_printer_writes_the_ticket_and_cannot_read_status(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    with TicketPrinter(f"file:{device}") as p:
        result = p.print_ticket(TICKET)
        assert result.ok and result.status is not None
        assert (result.status.online, result.status.paper) == (None, "unknown")
    assert device.read_bytes() == render_ticket(TICKET)


def test_dummy_collects_bytes() -> None:
    p = TicketPrinter("dummy:")
    assert p.print_ticket(TICKET).ok
    assert p.print_ticket(TICKET).ok
    assert p.dummy_output == render_ticket(TICKET) * 2
    assert p.status().paper == "unknown"
