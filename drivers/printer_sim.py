"""Simulated ESC/POS network printer (like a printer on TCP port 9100), for tests and demos.

It records what it receives, one job per cut (`GS V`), and answers real-time status requests
(DLE EOT 1–4) and the paper sensor request GS r 1 from its state; `status_commands` says which of the
two it knows (a printer without DLE EOT: `{"gs_r"}`). `answering = False` models a printer that takes
data but never replies;
`unplug()` closes the listener and every connection, so later connects are refused.

    with PrinterSimulator() as sim:                 # listens on 127.0.0.1, a free port
        printer = TicketPrinter(sim.url)            # "socket://127.0.0.1:PORT"
        sim.paper = "near_end"
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Literal

_CUT_ONE_PARAM = {0, 1, 48, 49}  # GS V m; other modes (65, 66, 97, 98, 103, 104) take a feed byte


class PrinterSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.paper: Literal["ok", "near_end", "out"] = "ok"
        self.cover_open = False
        self.cutter_error = False
        self.answering = True
        self.status_commands: set[str] = {"dle_eot", "gs_r"}
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._pending: dict[socket.socket, bytes] = {}  # an incomplete status request at a chunk's end
        self._job = bytearray()
        self._jobs: list[bytes] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"printer-sim:{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def jobs(self) -> list[bytes]:
        """Completed jobs (each ends with its cut), oldest first."""
        with self._changed:
            return list(self._jobs)

    def wait_for_jobs(self, count: int, timeout: float = 3.0) -> list[bytes]:
        """Completed jobs once there are `count` of them (or whatever arrived by the timeout)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._jobs) >= count, timeout)
            return list(self._jobs)

    def unplug(self) -> None:
        """Drop off the network: close every connection and stop listening."""
        self._stop.set()
        self._thread.join(timeout=2)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()

    def __enter__(self) -> PrinterSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            self.unplug()

    def status_byte(self, n: int) -> int:
        """The reply to DLE EOT n: fixed bits 0x12 plus the state bits of the ESC/POS spec."""
        out = self.paper == "out"
        if n == 1:
            offline = self.cover_open or out or self.cutter_error
            return 0x12 | (0x08 if offline else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if out else 0) | (0x40 if self.cutter_error else 0)
        if n == 3:
            return 0x12 | (0x08 if self.cutter_error else 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper != "ok" else 0) | (0x60 if out else 0)
        return 0x12

    def gs_r_byte(self) -> int:
        """The reply to GS r 1: bits 0–1 roll near end, bits 2–3 roll end (out implies near end)."""
        return (0x03 if self.paper != "ok" else 0) | (0x0C if self.paper == "out" else 0)

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    conn, _ = self._listener.accept()
                    self._selector.register(conn, selectors.EVENT_READ)
                    continue
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    self._selector.unregister(sock)
                    self._pending.pop(sock, None)
                    sock.close()
                    continue
                self._receive(sock, self._pending.pop(sock, b"") + chunk)

    def _receive(self, sock: socket.socket, data: bytes) -> None:
        """Answer DLE EOT n and GS r n wherever they occur; everything else is job data. A request the
        printer does not know is swallowed unanswered, as a printer ignores an unsupported command."""
        i = 0
        while i < len(data):
            request = {0x10: (b"\x04", "dle_eot"), 0x1D: (b"r", "gs_r")}.get(data[i])
            if request is not None and data[i + 1 : i + 2] in (request[0], b""):
                if i + 2 >= len(data):
                    self._pending[sock] = data[i:]
                    return
                n = data[i + 2]
                if self.answering and request[1] in self.status_commands:
                    reply = self.status_byte(n) if request[1] == "dle_eot" else self.gs_r_byte() if n in (1, 49) else 0
                    try:
                        sock.sendall(bytes([reply]))
                    except OSError:
                        return
                i += 3
                continue
            self._job.append(data[i])
            i += 1
            if self._job_complete():
                with self._changed:
                    self._jobs.append(bytes(self._job))
                    self._job.clear()
                    self._changed.notify_all()

    def _job_complete(self) -> bool:
        job = self._job
        if len(job) >= 3 and job[-3:-1] == b"\x1dV" and job[-1] in _CUT_ONE_PARAM:
            return True
        return len(job) >= 4 and job[-4:-2] == b"\x1dV" and job[-2] not in _CUT_ONE_PARAM
