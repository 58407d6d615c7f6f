"""Ticket printer (取号小票打印机): the ticket layout as ESC/POS bytes, and a blocking printer client.

Text goes out as raw GBK after `ESC @` + `FS &` (Chinese mode): python-escpos's own text path picks
code pages per string and mangles strings without Hanzi (`：`, `——`). python-escpos still builds the
non-text commands (alignment, size, QR, cut) and provides the connections.

`TicketPrinter` methods block; the controller runs them in one single-thread executor per printer.
They never raise on device trouble: they return `PrintResult` / `PrinterStatus`.
"""

from __future__ import annotations

import re
import socket
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from escpos.printer import Dummy, File, Network, Serial, Usb

# --- text: GBK bytes and display width -------------------------------------------------------------

ESC_INIT = b"\x1b@"
FS_CHINESE_ON = b"\x1c&"

# Common characters outside GBK with a GBK look-alike; anything else outside GBK prints as "?".
_SUBSTITUTES = {"¥": "￥", "•": "·", "✓": "√", "✔": "√", "\u00a0": " "}


@lru_cache(maxsize=4096)
def _gbk_char(ch: str) -> bytes:
    ch = _SUBSTITUTES.get(ch, ch)
    if unicodedata.category(ch) == "Cc":
        return b" "  # a stray ESC/GS in a service name must not become a printer command
    try:
        raw = ch.encode("gbk")
    except UnicodeEncodeError:
        return b"?"
    # Python's gbk maps "€" to the single byte 0x80, which a printer in Chinese mode misreads.
    return raw if len(raw) == 2 or raw[0] < 0x80 else b"?"


def encode_gbk(text: str) -> bytes:
    """GBK bytes for the printer; never fails (unencodable characters become '?')."""
    return b"".join(_gbk_char(ch) for ch in text if unicodedata.category(ch) != "Cf")


def text_width(text: str) -> int:
    """Printed width in ASCII columns: a double-byte GBK character fills two."""
    return len(encode_gbk(text))


_CLOSING = "，。、；：？！）》」』】”’…,.;:?!)%"
# A token never starts a line with closing punctuation (避头): it stays glued to what precedes it.
_TOKEN = re.compile(rf"[!-~]+[{re.escape(_CLOSING)}]*|\s|.[{re.escape(_CLOSING)}]*")


def wrap(text: str, columns: int) -> list[str]:
    """Wrap by display width: break between Hanzi or at spaces, keep ASCII words whole when they fit."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if text_width(line + token) <= columns:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        if token.isspace():
            continue
        while text_width(token) > columns:
            cut = _fitting_prefix(token, columns)
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _fitting_prefix(text: str, columns: int) -> int:
    used = 0
    for i, ch in enumerate(text):
        used += text_width(ch)
        if used > columns:
            return max(i, 1)
    return len(text)


def _fit(parts: list[str], columns: int) -> list[str]:
    """One line when the parts fit together, else each part on its own line(s)."""
    joined = "".join(parts)
    if text_width(joined) <= columns:
        return [joined]
    return [line for part in parts for line in wrap(part, columns)]


# --- the ticket ----------------------------------------------------------------------------------------

COLUMNS = {80: 48, 58: 32}  # ASCII columns of the 12×24 font: 576 and 384 dots


@dataclass(frozen=True)
class TicketPrint:
    """Everything printed on one 取号小票."""

    hall_name: str
    number: str  # e.g. "A012"
    service_name: str
    category_name: str
    issued_at: datetime
    wait_text: tuple[str, str]  # people ahead, then the wait: ("您前面还有 3 人，", "预计等候约 12 分钟")
    status_url: str  # QR payload: the ticket's progress page
    materials: list[tuple[str, bool]] = field(default_factory=list)  # (name, required); not required = 容缺
    priority_label: str | None = None
    window_hint: str | None = None  # e.g. "请留意 1-6 号综合窗口" (a plain hyphen: the en dash is not GB2312)
    paper_width: Literal[80, 58] = 80

    def __post_init__(self) -> None:
        if self.paper_width not in COLUMNS:
            raise ValueError(f"paper_width must be 80 or 58 (mm), not {self.paper_width!r}")


class _Receipt:
    """Accumulates one ticket: python-escpos builds the commands, text goes in as raw GBK lines."""

    def __init__(self) -> None:
        self._esc = Dummy()
        self._chunks: list[bytes] = [ESC_INIT, FS_CHINESE_ON]

    def _take(self) -> None:
        self._chunks.append(self._esc.output)
        self._esc.clear()

    def style(self, *, align: str | None = None, bold: bool | None = None) -> None:
        self._esc.set(align=align, bold=bold)
        self._take()

    def size(self, width: int, height: int) -> None:
        self._esc.set(custom_size=True, width=width, height=height)  # GS !: scales Hanzi too
        self._take()

    def lines(self, lines: list[str]) -> None:
        self._chunks.extend(encode_gbk(line) + b"\n" for line in lines)

    def qr(self, payload: str, module: int) -> None:
        self._esc.qr(payload, native=True, size=module, ec=QR_ECLEVEL_M)
        self._take()
        self._chunks.append(b"\n")

    def cut(self) -> None:
        self._esc.cut()  # ESC d 6 (clear the cutter) + GS V 0
        self._take()

    def output(self) -> bytes:
        return b"".join(self._chunks)


def _material_lines(materials: list[tuple[str, bool]], columns: int) -> list[str]:
    """'□ name … 必交/容缺' rows, the mark right-aligned, long names wrapped under the box."""
    box, indent = "□ ", " " * text_width("□ ")  # □ is a double-byte character: three columns
    name_columns = columns - len(indent) - 1 - text_width("必交")
    rows: list[str] = []
    for name, required in materials:
        mark = "必交" if required else "容缺"
        parts = wrap(name, name_columns)
        pad = name_columns - text_width(parts[0])
        rows.append(f"{box}{parts[0]}{' ' * (pad + 1)}{mark}")
        rows.extend(indent + part for part in parts[1:])
    return rows


def render_ticket(t: TicketPrint) -> bytes:
    """The ticket as ESC/POS bytes, ready for any connection."""
    columns = COLUMNS[t.paper_width]
    rule = ["-" * columns]
    r = _Receipt()

    r.style(align="center", bold=True)
    hall_scale = 2 if text_width(t.hall_name) * 2 <= columns else 1
    r.size(hall_scale, 2)
    r.lines(wrap(t.hall_name, columns // hall_scale))
    r.size(1, 1)
    r.style(bold=False)
    r.lines(rule + ["排队号"])
    big = 5 if t.paper_width == 80 else 4
    r.size(big, big)
    r.lines(wrap(t.number, columns // big))
    r.style(bold=True)
    if t.priority_label:
        r.size(1, 2)
        r.lines(wrap(f"【{t.priority_label}】", columns))
    r.size(2, 2)
    r.lines(wrap(t.service_name, columns // 2))
    r.size(1, 1)
    r.style(bold=False)
    r.lines(wrap(t.category_name, columns) + rule)

    r.style(align="left")
    r.lines(wrap(f"取号时间：{t.issued_at:%Y-%m-%d %H:%M}", columns))
    r.lines(_fit(list(t.wait_text), columns))
    if t.window_hint:
        r.lines(wrap(t.window_hint, columns))

    if t.status_url:
        r.style(align="center")
        r.qr(t.status_url, 6 if t.paper_width == 80 else 5)
        r.lines(["扫码查看排队进度"])

    if t.materials:
        r.style(align="left")
        r.lines(rule)
        r.style(bold=True)
        r.lines(_fit(["【一次性告知】", "请备齐以下材料"], columns))
        r.style(bold=False)
        r.lines(_material_lines(t.materials, columns))
        if not all(required for _, required in t.materials):
            r.lines(wrap("注：“容缺”材料可先受理后补交", columns))

    r.style(align="center")
    r.lines(rule + ["请留意叫号，过号请至服务台"])
    r.cut()
    return r.output()


@dataclass(frozen=True)
class NoticePrint:
    """A written notice on the receipt printer (补正材料通知书, 不予受理告知书): title, the 办件编号, paragraphs,
    a checklist of items (materials), and the footer (window, staff number, date, the hall)."""

    hall_name: str
    title: str
    application_no: str
    paragraphs: tuple[str, ...]
    items: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    paper_width: Literal[80, 58] = 80

    def __post_init__(self) -> None:
        if self.paper_width not in COLUMNS:
            raise ValueError(f"paper_width must be 80 or 58 (mm), not {self.paper_width!r}")


def render_notice(n: NoticePrint) -> bytes:
    """The notice as ESC/POS bytes: the same receipt conventions as the ticket."""
    columns = COLUMNS[n.paper_width]
    rule = ["-" * columns]
    r = _Receipt()
    r.style(align="center", bold=True)
    r.lines(wrap(n.hall_name, columns))
    r.size(2, 2)
    r.lines(wrap(n.title, columns // 2))
    r.size(1, 1)
    r.style(bold=False)
    r.lines(wrap(f"办件编号：{n.application_no}", columns) + rule)
    r.style(align="left")
    for p in n.paragraphs:
        r.lines(wrap(p, columns))
    if n.items:
        r.lines([f"{i}. {line}" if j == 0 else "   " + line
                 for i, item in enumerate(n.items, 1) for j, line in enumerate(wrap(item, columns - 3))])
    r.lines(rule)
    for f in n.footer:
        r.lines(wrap(f, columns))
    r.style(align="center")
    r.lines(rule + ["请妥善保管本通知书"])
    r.cut()
    return r.output()


def demo_ticket(paper_width: Literal[80, 58] = 80) -> TicketPrint:
    """A realistic sample ticket: the picture in docs/, and a printer test page."""
    return TicketPrint(
        hall_name="清河县政务服务中心",
        number="A012",
        service_name="户籍迁移",
        category_name="公安户政",
        issued_at=datetime(2025, 3, 14, 9, 32),
        wait_text=("您前面还有 3 人，", "预计等候约 12 分钟"),
        status_url="https://zwfw.qinghe.gov.cn/q/A012?d=20250314",
        materials=[
            ("居民身份证", True),
            ("居民户口簿", True),
            ("准予迁入证明（准迁证）", True),
            ("结婚证（夫妻投靠时提供）", False),
        ],
        window_hint="请留意 1-6 号综合窗口",
        paper_width=paper_width,
    )


# --- the printer --------------------------------------------------------------------------------------

Paper = Literal["ok", "near_end", "out", "unknown"]


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said. `None` / "unknown" = it did not say; never read as "fine"."""

    online: bool | None
    paper: Paper
    cover_open: bool | None
    error: str | None  # Chinese description of a fault or of why the status is unknown


@dataclass(frozen=True)
class PrintResult:
    ok: bool
    code: Literal["ok", "paper_out", "cover_open", "printer_error", "connect_failed", "write_failed"]
    message: str  # Chinese, for staff
    status: PrinterStatus | None = None


DLE_EOT = b"\x10\x04"
GS_R_PAPER = b"\x1dr\x01"  # GS r 1: transmit paper sensor status (not real-time: answered between jobs)
StatusQuery = Literal["auto", "dle_eot", "gs_r"]
STATUS_QUERIES = ("auto", "dle_eot", "gs_r")


def _reason(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _status_byte(reply: bytes) -> int | None:
    """The last reply byte if it has the fixed bits of a DLE EOT answer (bit 1 and 4 set, 0 and 7 clear)."""
    if reply and reply[-1] & 0x93 == 0x12:
        return reply[-1]
    return None


def _gs_r_byte(reply: bytes) -> int | None:
    """The last reply byte if it can answer GS r 1 (bits 4 and 7 clear: a DLE EOT byte has bit 4 set)."""
    if reply and reply[-1] & 0x90 == 0:
        return reply[-1]
    return None


def _decode_gs_r(paper: int) -> PrinterStatus:
    """Status from GS r 1 alone: bits 0–1 roll near end, bits 2–3 roll end. It says nothing of the cover
    or errors, and answering at all means the printer took the command: online."""
    state: Paper = "out" if paper & 0x0C else "near_end" if paper & 0x03 else "ok"
    return PrinterStatus(True, state, None, None)


def _decode_status(printer: int | None, cause: int | None, paper: int | None) -> PrinterStatus:
    """Status from the replies to DLE EOT 1 (printer), 2 (offline cause) and 4 (paper roll sensor)."""
    if printer is None:
        return PrinterStatus(None, "unknown", None, "打印机无应答，状态未知")
    online = not printer & 0x08
    cover_open = None if cause is None else bool(cause & 0x04)
    paper_state: Paper = "unknown"
    if paper is not None:
        paper_state = "out" if paper & 0x60 else "near_end" if paper & 0x0C else "ok"
    if cause is not None and cause & 0x20:
        paper_state = "out"  # printing stopped at paper end, whatever the roll sensor says
    error = None
    if cause is not None and cause & 0x40:
        error = "打印机故障（如切刀卡纸），请检查"
    elif not online and not cover_open and paper_state != "out":
        error = "打印机离线"
    return PrinterStatus(online, paper_state, cover_open, error)


def _refusal(status: PrinterStatus) -> PrintResult | None:
    if status.paper == "out":
        return PrintResult(False, "paper_out", "打印纸已用完，请更换纸卷", status)
    if status.cover_open:
        return PrintResult(False, "cover_open", "打印机盖未合上", status)
    if status.online is False:
        return PrintResult(False, "printer_error", status.error or "打印机离线", status)
    return None


@dataclass(frozen=True)
class ConnectionSpec:
    """A parsed connection spec: serial:PATH?baud=N, socket://HOST:PORT, usb:VID:PID, file:PATH, dummy:."""

    kind: Literal["serial", "socket", "usb", "file", "dummy"]
    target: str = ""  # device path, host, or "VID:PID" in hex
    number: int = 0  # baud rate, TCP port


def parse_spec(spec: str) -> ConnectionSpec:
    """Parse a connection spec; ValueError names the accepted forms."""
    if spec.startswith("socket://"):
        parts = urlsplit(spec)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port:
            return ConnectionSpec("socket", parts.hostname, port)
    kind, _, rest = spec.partition(":")
    if kind == "serial" and rest:
        path, _, query = rest.partition("?")
        baud = parse_qs(query).get("baud", ["9600"])[0]
        if path and baud.isdigit():
            return ConnectionSpec("serial", path, int(baud))
    if kind == "usb" and re.fullmatch(r"(0x)?[0-9a-fA-F]{1,4}:(0x)?[0-9a-fA-F]{1,4}", rest):
        return ConnectionSpec("usb", rest)
    if kind == "file" and rest:
        return ConnectionSpec("file", rest)
    if spec == "dummy:":
        return ConnectionSpec("dummy")
    raise ValueError(
        f"printer spec {spec!r}: expected serial:PATH?baud=N, socket://HOST:PORT, usb:VID:PID, "
        "file:PATH or dummy:"
    )


class TicketPrinter:
    """A ticket printer behind one connection spec. Blocking; not thread-safe (one executor thread).

    The connection opens on first use and stays open; after a device error it is closed and the next
    call reconnects.
    """

    def __init__(self, spec: str, *, status_timeout: float = 0.5, write_timeout: float = 5.0,
                 status_query: StatusQuery = "auto") -> None:
        """`status_query`: "dle_eot" (real-time status), "gs_r" (GS r 1, for printers without DLE EOT) or
        "auto": DLE EOT, and GS r 1 when DLE EOT gets no reply; a connection where only GS r answered
        keeps using it, so a silent DLE EOT does not cost `status_timeout` on every print."""
        if status_query not in STATUS_QUERIES:
            raise ValueError(f"status_query must be one of {', '.join(STATUS_QUERIES)}, got {status_query!r}")
        self.spec = spec
        self.connection = parse_spec(spec)  # a malformed spec fails here, at configuration time
        self.status_query = status_query
        self._gs_r_only = status_query == "gs_r"
        self.status_timeout = status_timeout
        self.write_timeout = write_timeout
        self._printer: Escpos | None = None
        self._dummy = Dummy() if self.connection.kind == "dummy" else None

    @property
    def dummy_output(self) -> bytes:
        """Bytes sent so far to a `dummy:` printer (empty for real connections)."""
        return self._dummy.output if self._dummy else b""

    def print_ticket(self, t: TicketPrint) -> PrintResult:
        """Print one ticket, unless the printer reports it cannot (no paper, cover open, offline)."""
        return self.print_raw(render_ticket(t))

    def print_notice(self, n: NoticePrint) -> PrintResult:
        return self.print_raw(render_notice(n))

    def print_raw(self, data: bytes) -> PrintResult:
        """Send one rendered page, unless the printer reports it cannot (no paper, cover open, offline)."""
        status = self._query_status(retry_stale=True)
        if self._printer is None:
            return PrintResult(False, "connect_failed", status.error or "无法连接打印机", status)
        refused = _refusal(status)
        if refused:
            return refused
        try:
            self._printer._raw(data)  # python-escpos has no public raw write; _raw is each connection's
        except Exception as e:  # every driver fails differently (OSError, SerialException, USBError…)
            self.close()
            return PrintResult(False, "write_failed", f"发送打印数据失败：{_reason(e)}", status)
        if status.paper == "near_end":
            return PrintResult(True, "ok", "已打印；打印纸即将用完，请准备更换", status)
        return PrintResult(True, "ok", "已打印", status)

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1, 2 and 4 (or GS r 1, see `status_query`); a silent printer is "unknown", never "ok"."""
        return self._query_status(retry_stale=True)

    def close(self) -> None:
        """Close the connection; safe to call any time, also after an unplug."""
        printer, self._printer = self._printer, None
        self._gs_r_only = self.status_query == "gs_r"  # "auto" asks DLE EOT again on the next connection
        if printer is None or printer is self._dummy:
            return
        try:
            printer.close()
        except Exception:  # an unplugged device fails to close; it is gone either way
            pass
        # python-escpos's __del__ closes again and raises after an unplug: leave it nothing to close.
        printer._device = False

    def __enter__(self) -> TicketPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> Escpos:
        c = self.connection
        if c.kind == "socket":
            return Network(c.target, c.number, timeout=self.write_timeout)
        if c.kind == "serial":
            return Serial(c.target, baudrate=c.number, timeout=self.status_timeout)
        if c.kind == "usb":
            if not Usb.is_usable():  # constructing it anyway leaves an object whose __del__ raises
                raise RuntimeError("USB 打印需要 pyusb 与 libusb-1.0（Debian: libusb-1.0-0）")
            vid, pid = (int(x, 16) for x in c.target.split(":"))
            return Usb(vid, pid, timeout=int(self.write_timeout * 1000))
        if c.kind == "file":
            return File(c.target)
        assert self._dummy is not None
        return self._dummy

    def _connected(self) -> Escpos:
        if self._printer is None:
            printer = self._build()
            self._printer = printer
            try:
                printer.open()
            except Exception:
                self.close()
                raise
        return self._printer

    def _query_status(self, *, retry_stale: bool) -> PrinterStatus:
        fresh = self._printer is None
        try:
            printer = self._connected()
        except Exception as e:  # missing device, refused connection, USB library absent…
            return PrinterStatus(False, "unknown", None, f"无法连接打印机（{self.spec}）：{_reason(e)}")
        if isinstance(printer, (File, Dummy)):
            return PrinterStatus(None, "unknown", None, "该连接方式无法读取打印机状态")
        try:
            if not self._gs_r_only:
                first = _status_byte(self._ask(printer, DLE_EOT + b"\x01"))
                if first is not None:
                    cause = _status_byte(self._ask(printer, DLE_EOT + b"\x02"))
                    paper = _status_byte(self._ask(printer, DLE_EOT + b"\x04"))
                    return _decode_status(first, cause, paper)
            if self.status_query == "dle_eot":
                return _decode_status(None, None, None)
            sensor = _gs_r_byte(self._ask(printer, GS_R_PAPER))
            if sensor is None:
                return _decode_status(None, None, None)
            self._gs_r_only = True
            return _decode_gs_r(sensor)
        except Exception as e:
            self.close()
            if retry_stale and not fresh:  # a kept-open connection may have died since the last call
                return self._query_status(retry_stale=False)
            return PrinterStatus(None, "unknown", None, f"与打印机的连接中断：{_reason(e)}")

    def _ask(self, printer: Escpos, request: bytes) -> bytes:
        """The reply to a status request; b"" when the printer stays silent for status_timeout."""
        if isinstance(printer, Network):
            return self._ask_socket(printer.device, request)
        if isinstance(printer, Serial):
            port = printer.device
            port.reset_input_buffer()  # drop late replies to earlier queries
            port.write(request)
            return port.read(1)  # python-escpos reads 16 bytes: that always waits out the timeout
        return printer.query_status(request)

    def _ask_socket(self, sock: socket.socket, request: bytes) -> bytes:
        sock.setblocking(False)
        try:
            while True:  # drop late replies to earlier queries
                if not sock.recv(64):
                    raise ConnectionResetError("打印机关闭了连接")
        except BlockingIOError:
            pass
        sock.settimeout(self.status_timeout)
        try:
            sock.sendall(request)
            reply = sock.recv(16)
        except TimeoutError:
            return b""
        finally:
            sock.settimeout(self.write_timeout)
        if not reply:
            raise ConnectionResetError("打印机关闭了连接")  # recv() returns b"" only at end of stream
        return reply
