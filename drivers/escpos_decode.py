"""Decoder for the ESC/POS subset our tickets use: a text dump for golden tests, a PNG for people.

No installable ESC/POS renderer handles GBK in Chinese mode (`FS &`), so this reads exactly what
`drivers.printer` emits and skips any other command by its length, never failing on odd bytes.

Regenerate the demo picture: `python -m drivers.escpos_decode --demo docs/ticket-demo.png`
Render captured bytes:       `python -m drivers.escpos_decode job.bin out.png [--width 384]`
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.exceptions import DataOverflowError

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # Debian: fonts-wqy-microhei

# --- parsing: bytes -> operations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str
    wide: tuple[bool, ...]  # per character: a double-byte character filling two columns


@dataclass(frozen=True)
class LineFeed:
    pass


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class Init:
    pass


@dataclass(frozen=True)
class Chinese:
    on: bool


@dataclass(frozen=True)
class Align:
    align: str  # "left" | "center" | "right"


@dataclass(frozen=True)
class Bold:
    on: bool


@dataclass(frozen=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True)
class QR:
    payload: str
    module: int
    ec: str  # "L" | "M" | "Q" | "H"


@dataclass(frozen=True)
class Cut:
    pass


Op = Text | LineFeed | Feed | Init | Chinese | Align | Bold | Size | QR | Cut

# Parameter byte counts of fixed-length commands we do not act on, so they are skipped, not printed;
# any other command is taken to have none.
_ESC_PARAMS = {
    b" ": 1, b"-": 1, b"3": 1, b"=": 1, b"?": 1, b"G": 1, b"J": 1, b"K": 1, b"M": 1, b"R": 1, b"T": 1,
    b"U": 1, b"V": 1, b"$": 2, b"\\": 2, b"c": 2, b"e": 1, b"p": 3, b"r": 1, b"t": 1, b"u": 1, b"{": 1,
}
_GS_PARAMS = {
    b"$": 2, b"B": 1, b"H": 1, b"I": 1, b"L": 2, b"P": 2, b"W": 2, b"\\": 2, b"a": 1, b"b": 1,
    b"f": 1, b"h": 1, b"r": 1, b"w": 1, b"^": 3,
}
_FS_PARAMS = {b"!": 1, b"-": 1, b"2": 74, b"C": 1, b"S": 2, b"W": 1, b"p": 2, b"^": 2}
_CUT_ONE_PARAM = {0, 1, 48, 49}
_QR_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes | None:
        """The next n bytes, or None (and the rest consumed) when the data ends early."""
        if self.pos + n > len(self.data):
            self.pos = len(self.data)
            return None
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def skip_to_nul(self) -> None:
        end = self.data.find(b"\x00", self.pos)
        self.pos = len(self.data) if end < 0 else end + 1


def parse(data: bytes) -> Iterator[Op]:
    """Operations in `data`; unknown commands are skipped by their known length (or two bytes)."""
    r = _Reader(data)
    chinese = False
    qr_payload, qr_module, qr_ec = "", 3, "L"
    text: list[str] = []
    wide: list[bool] = []

    def flush() -> Iterator[Op]:
        if text:
            yield Text("".join(text), tuple(wide))
            text.clear()
            wide.clear()

    while r.pos < len(data):
        b = data[r.pos]
        if 0x20 <= b < 0x7F:
            text.append(chr(b))
            wide.append(False)
            r.pos += 1
            continue
        if b >= 0x80:
            r.pos += 1
            trail = data[r.pos] if r.pos < len(data) else None
            if chinese and 0x81 <= b <= 0xFE and trail is not None and 0x40 <= trail <= 0xFE and trail != 0x7F:
                r.pos += 1
                ch = bytes([b, trail]).decode("gbk", errors="replace")
                text.append(ch if len(ch) == 1 else "\ufffd")  # an unassigned pair is one glyph
                wide.append(True)
            else:
                text.append(bytes([b]).decode("cp437") if not chinese else "\ufffd")
                wide.append(False)
            continue
        yield from flush()
        r.pos += 1
        if b == 0x0A:
            yield LineFeed()
        elif b == 0x09:
            text.append(" ")
            wide.append(False)
        elif b == 0x1B:
            op = _parse_esc(r)
            if isinstance(op, Init):
                chinese = False
                qr_payload, qr_module, qr_ec = "", 3, "L"
            if op is not None:
                yield op
        elif b == 0x1C:
            cmd = r.take(1)
            if cmd in (b"&", b"."):
                chinese = cmd == b"&"
                yield Chinese(chinese)
            elif cmd is not None:
                r.take(_FS_PARAMS.get(cmd, 0))
        elif b == 0x1D:
            cmd = r.take(1)
            if cmd == b"(":
                header = r.take(3)
                if header is None:
                    continue
                body = r.take(header[1] | header[2] << 8)
                if header[:1] != b"k" or body is None or len(body) < 2 or body[0] != 49:
                    continue
                fn, args = body[1], body[2:]
                if fn == 80 and args:  # store data: m ('0') then the payload
                    qr_payload = args[1:].decode("utf-8", errors="replace")
                elif fn == 67 and args:
                    qr_module = min(max(args[0], 1), 16)
                elif fn == 69 and args:
                    qr_ec = _QR_EC.get(args[0], qr_ec)
                elif fn == 81:
                    yield QR(qr_payload, qr_module, qr_ec)
            else:
                op = _parse_gs(r, cmd)
                if op is not None:
                    yield op
        elif b == 0x10:
            cmd = r.take(1)  # real-time requests (DLE EOT n, DLE ENQ n…) are answered, not printed
            if cmd in (b"\x04", b"\x05"):
                r.take(1)
            elif cmd == b"\x14":
                r.take(3)
    yield from flush()


def _parse_esc(r: _Reader) -> Op | None:
    cmd = r.take(1)
    if cmd is None:
        return None
    if cmd == b"@":
        return Init()
    if cmd in (b"a", b"E", b"d", b"!"):
        arg = r.take(1)
        if arg is None:
            return None
        n = arg[0]
        if cmd == b"a":
            return Align({0: "left", 1: "center", 2: "right"}.get(n % 48, "left"))
        if cmd == b"E":
            return Bold(bool(n & 1))
        if cmd == b"d":
            return Feed(n)
        return Size(2 if n & 0x20 else 1, 2 if n & 0x10 else 1)  # ESC ! print mode
    if cmd == b"*":  # bit image: m nL nH, then nL+nH*256 columns of 1 or 3 bytes
        head = r.take(3)
        if head is not None:
            r.take((head[1] | head[2] << 8) * (3 if head[0] in (32, 33) else 1))
        return None
    if cmd == b"D":
        r.skip_to_nul()
        return None
    r.take(_ESC_PARAMS.get(cmd, 0))
    return None


def _parse_gs(r: _Reader, cmd: bytes | None) -> Op | None:
    if cmd is None:
        return None
    if cmd == b"!":
        arg = r.take(1)
        return None if arg is None else Size((arg[0] >> 4 & 7) + 1, (arg[0] & 7) + 1)
    if cmd == b"V":
        arg = r.take(1)
        if arg is None:
            return None
        if arg[0] not in _CUT_ONE_PARAM:
            r.take(1)
        return Cut()
    if cmd == b"k":  # barcode: NUL-terminated (m ≤ 6) or length-prefixed
        m = r.take(1)
        if m is not None and m[0] <= 6:
            r.skip_to_nul()
        elif m is not None:
            n = r.take(1)
            r.take(n[0] if n else 0)
        return None
    if cmd == b"v":  # raster image: '0' m xL xH yL yH, then xL+xH*256 × yL+yH*256 bytes
        head = r.take(6)
        if head is not None:
            r.take((head[2] | head[3] << 8) * (head[4] | head[5] << 8))
        return None
    if cmd == b"8":  # GS 8 L: four-byte length
        head = r.take(5)
        if head is not None:
            r.take(int.from_bytes(head[1:5], "little"))
        return None
    r.take(_GS_PARAMS.get(cmd, 0))
    return None


# --- text dump ------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """A readable dump: printed lines, with [markers] where style changes and for QR codes and cuts.

    Markers appear only when a setting actually changes, so redundant commands do not show.
    """
    out: list[str] = []
    align, bold, size = "left", False, (1, 1)
    for op in parse(data):
        match op:
            case Text(text=text):
                out.append(text)
            case LineFeed():
                out.append("\n")
            case Feed(lines=n):
                out.append(f"[FEED {n}]\n")
            case Init():
                out.append("[INIT]")
                align, bold, size = "left", False, (1, 1)
            case Chinese(on=on):
                out.append("[CN]" if on else "[/CN]")
            case Align(align=a) if a != align:
                align = a
                out.append(f"[{a}]")
            case Bold(on=on) if on != bold:
                bold = on
                out.append("[bold]" if on else "[/bold]")
            case Size(width=w, height=h) if (w, h) != size:
                size = (w, h)
                out.append(f"[size {w}x{h}]")
            case QR(payload=payload):
                out.append(f"[QR:{payload}]")
            case Cut():
                out.append("[CUT]\n")
    return "".join(out)


# --- PNG --------------------------------------------------------------------------------------------------

DOT = 12  # an ASCII cell of the 12×24 font; a Hanzi cell is two of them
LINE = 30  # default line spacing (dots) for the 24-dot font
MARGIN = 32  # unprinted paper each side of the print head
PAPER, INK, TABLE = 255, 24, 200  # grey levels: paper, thermal black, the background around the paper


@lru_cache(maxsize=16)
def _font(size: int, path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=2048)
def _glyph(ch: str, cells: int, w: int, h: int, bold: bool, font_path: str) -> Image.Image:
    """A character as a mask filling its printer cell, stretched by the GS ! factors."""
    size = 24 * h
    font = _font(size, font_path)
    baseline = round(size * 0.84)
    left, _, right, _ = font.getbbox(ch, anchor="ls")
    ink = right - left + (h if bold else 0)
    cell_width = DOT * cells * h
    image = Image.new("L", (max(cell_width, ink), size), 0)
    draw = ImageDraw.Draw(image)
    x = (image.width - ink) // 2 - left
    draw.text((x, baseline), ch, fill=255, font=font, anchor="ls")
    if bold:  # emphasized mode: printers strike each dot twice, shifted by one dot
        draw.text((x + h, baseline), ch, fill=255, font=font, anchor="ls")
    if image.width > cell_width or w != h:  # squeeze a wide glyph into its cell; apply GS ! width
        image = image.resize((DOT * cells * w, size), Image.LANCZOS)
    return image


class _Sheet:
    """A strip of paper that grows as lines print."""

    def __init__(self, width_dots: int) -> None:
        self.width = width_dots
        self.image = Image.new("L", (width_dots, 2048), PAPER)
        self.y = 16

    def reserve(self, height: int) -> None:
        if self.y + height > self.image.height:
            grown = Image.new("L", (self.width, max(self.image.height * 2, self.y + height)), PAPER)
            grown.paste(self.image, (0, 0))
            self.image = grown

    def x_for(self, align: str, width: int) -> int:
        return {"center": (self.width - width) // 2, "right": self.width - width}.get(align, 0)

    def finished(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y + 16))


@dataclass
class _Cell:
    ch: str
    cells: int
    w: int
    h: int
    bold: bool


def render_png(data: bytes, path: str | Path, width_dots: int = 576, font_path: str = FONT_PATH) -> None:
    """Draw the receipt like the printer would (576 dots = 80 mm, 384 = 58 mm) and save it as PNG."""
    sheets: list[Image.Image] = []
    sheet = _Sheet(width_dots)
    align, bold, size = "left", False, (1, 1)
    line: list[_Cell] = []
    line_align = align

    def print_line() -> None:
        height = max([LINE] + [24 * c.h + 6 for c in line])
        sheet.reserve(height)
        x = sheet.x_for(line_align, sum(DOT * c.cells * c.w for c in line))
        for c in line:
            glyph = _glyph(c.ch, c.cells, c.w, c.h, c.bold, font_path)
            if 0 <= x and x + glyph.width <= sheet.width:  # printers drop what overflows the head
                sheet.image.paste(INK, (x, sheet.y + height - 6 - glyph.height), glyph)
            x += glyph.width
        sheet.y += height
        line.clear()

    for op in parse(data):
        match op:
            case Text(text=text, wide=wide):
                if not line:
                    line_align = align
                for ch, is_wide in zip(text, wide, strict=True):
                    line.append(_Cell(ch, 2 if is_wide else 1, size[0], size[1], bold))
            case LineFeed():
                print_line()
            case Feed(lines=n):
                if line:
                    print_line()
                    n -= 1
                sheet.reserve(LINE * max(n, 0))
                sheet.y += LINE * max(n, 0)
            case Init():
                align, bold, size = "left", False, (1, 1)
            case Align(align=a):
                align = a
            case Bold(on=on):
                bold = on
            case Size(width=w, height=h):
                size = (w, h)
            case QR():
                if line:
                    print_line()
                _draw_qr(sheet, op, align)
            case Cut():
                if line:
                    print_line()
                sheets.append(sheet.finished())
                sheet = _Sheet(width_dots)
    if line:
        print_line()
    if sheet.y > 16 or not sheets:
        sheets.append(sheet.finished())
    _compose(sheets).save(path)


def _draw_qr(sheet: _Sheet, op: QR, align: str) -> None:
    if not op.payload:
        return
    ec = {
        "L": qrcode.constants.ERROR_CORRECT_L,
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
        "H": qrcode.constants.ERROR_CORRECT_H,
    }[op.ec]
    code = qrcode.QRCode(box_size=op.module, border=0, error_correction=ec)
    code.add_data(op.payload)
    try:
        code.make(fit=True)
    except DataOverflowError:  # a printer prints nothing for a payload it cannot encode
        return
    img = code.make_image().get_image().convert("L")
    if img.width > sheet.width:
        return
    sheet.reserve(img.height + 8)
    sheet.image.paste(img, (sheet.x_for(align, img.width), sheet.y + 4))
    sheet.y += img.height + 8


def _compose(sheets: list[Image.Image]) -> Image.Image:
    """Paper strips on a grey table, with the unprinted margins either side of the print head."""
    width = sheets[0].width + 2 * MARGIN
    gap = 24
    height = sum(s.height for s in sheets) + gap * (len(sheets) + 1)
    out = Image.new("L", (width + 2 * gap, height), TABLE)
    y = gap
    for s in sheets:
        ImageDraw.Draw(out).rectangle((gap, y, gap + width - 1, y + s.height - 1), fill=PAPER)
        out.paste(s, (gap + MARGIN, y))
        y += s.height + gap
    return out


# --- command line -----------------------------------------------------------------------------------------


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", metavar="PNG", help="render the demo ticket (80 mm) to PNG")
    parser.add_argument("input", nargs="?", help="file of ESC/POS bytes")
    parser.add_argument("output", nargs="?", help="PNG to write (else the text dump goes to stdout)")
    parser.add_argument("--width", type=int, default=576, help="printable dots: 576 (80 mm) or 384 (58 mm)")
    args = parser.parse_args()
    if args.demo:
        from drivers.printer import demo_ticket, render_ticket

        ticket = demo_ticket()
        render_png(render_ticket(ticket), args.demo, width_dots=576 if ticket.paper_width == 80 else 384)
    elif args.input and args.output:
        render_png(Path(args.input).read_bytes(), args.output, width_dots=args.width)
    elif args.input:
        print(decode_text(Path(args.input).read_bytes()), end="")
    else:
        parser.error("give --demo PNG, or an input file")


if __name__ == "__main__":
    _main()
