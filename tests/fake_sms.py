"""A fake SMS gateway on 127.0.0.1: takes JSON sends, de-duplicating by request id, and answers as told —
accepted (`{"code": 0}`), refused by the gateway (`{"code": "E403"}`), or HTTP 500."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSmsGateway:
    MODES = ("ok", "refuse", "error")

    def __init__(self) -> None:
        self.mode = "ok"
        self.posts: list[dict[str, Any]] = []  # every request: body + authorization
        self.delivered: dict[str, dict[str, Any]] = {}  # request id -> body, each once
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the http.server name
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                with fake._lock:
                    fake.posts.append({**body, "authorization": self.headers.get("authorization")})
                    mode = fake.mode
                    if mode == "ok":
                        fake.delivered.setdefault(body["request_id"], body)
                status, reply = {"ok": (200, {"code": 0, "message": "OK"}),
                                 "refuse": (200, {"code": "E403", "message": "模板未审核"}),
                                 "error": (500, {"message": "internal"})}[mode]
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms/send"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
