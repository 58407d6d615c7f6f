"""`hall-controller devices`: press simulated keypads and pads, and watch the window displays, from a terminal.

It talks to a server started with `--devices simulated` through `/api/sim/...`; each press travels over
the simulated serial line to the bus master, exactly like a key on a real keypad.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

HELP = """命令 (commands):
  <窗口> signin <工号> <PIN>        签到            <窗口> signout          签离
  <窗口> call                       叫号            <窗口> next [办结类型]   办结并叫号
  <窗口> recall | skip              重呼 | 过号     <窗口> finish [办结类型] 办结
  <窗口> pause | resume             暂停 | 恢复     <窗口> transfer <分类id | 窗口号>
  <窗口> rate <1-5> [原因 0-6]      评价器评价 (1 非常满意 … 5 非常不满意)
  show                              显示所有窗口屏     help | quit
办结类型: immediate 即办件 (默认), promised, supplement, returned, consult, joint, escalated"""

SIMPLE = {"call": "call_next", "recall": "recall", "skip": "skip", "pause": "pause", "resume": "resume",
          "signout": "sign_out"}


def describe(window: dict[str, Any]) -> list[str]:
    """One line per simulated device of a window, as a person would read it off the hardware."""
    head = f"[{window['name']}]"
    out = []
    if "display" in window:
        d = window["display"]
        text = " | ".join(d["lines"]) or "（空白）"
        out.append(f"{head} 窗口屏: {text}{'  【暂停服务】' if d['paused'] else ''}")
    if "keypad" in window and window["keypad"]["lcd"]:
        out.append(f"{head} 呼叫器: {window['keypad']['lcd'].replace(chr(10), ' / ')}")
    if "pad" in window:
        invite = window["pad"]["invite"]
        about = f"办件 {invite['application']} {invite['matter'] or ''}".strip() if invite and invite.get("application") \
            else invite and invite["ticket"]
        out.append(f"{head} 评价器: " + (f"请为 {about} 评价（{invite['staff_name']}）" if invite else "待机"))
    return out


def request_for(words: list[str]) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) for one command line; ValueError with a Chinese message for a bad one."""
    if len(words) < 2:
        raise ValueError("格式：<窗口> <命令> …，输入 help 查看命令")
    window, verb, args = words[0], words[1].lower(), words[2:]
    press = f"/api/sim/keypads/{window}/press"
    if verb in SIMPLE and not args:
        return press, {"key": SIMPLE[verb]}
    if verb in ("next", "finish") and len(args) <= 1:
        return press, {"key": verb, "outcome": args[0] if args else None}
    if verb == "signin" and len(args) == 2:
        return press, {"key": "sign_in", "staff_id": args[0], "pin": args[1]}
    if verb == "transfer" and len(args) == 1:
        target = args[0]
        return press, {"key": "transfer", **({"window": int(target)} if target.isdigit() else {"category": target})}
    if verb == "rate" and len(args) in (1, 2) and all(a.isdigit() for a in args):
        return f"/api/sim/pads/{window}/rate", {"level": int(args[0]), "reason": int(args[1]) if len(args) > 1 else 0}
    raise ValueError(f"无法识别的命令：{' '.join(words)}，输入 help 查看命令")


class Watcher(threading.Thread):
    """Prints what changes on the simulated devices, twice a second."""

    def __init__(self, client: httpx.Client, lock: threading.Lock):
        super().__init__(daemon=True, name="device watcher")
        self.client, self.lock = client, lock
        self.stop = threading.Event()
        self.seen: dict[str, list[str]] = {}

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                windows = self.client.get("/api/sim/devices").json()["windows"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            for w in windows:
                lines = describe(w)
                if self.seen.get(w["window_id"], lines) != lines:
                    with self.lock:
                        for line in lines:
                            if line not in self.seen[w["window_id"]]:
                                print(f"  ~ {line}", flush=True)
                self.seen[w["window_id"]] = lines


def run(url: str) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per poll would bury the prompt
    lock = threading.Lock()
    with httpx.Client(base_url=url.rstrip("/"), timeout=10) as client:
        try:
            reply = client.get("/api/sim/devices")
        except httpx.HTTPError as e:
            print(f"无法连接 {url}：{e}")
            return 2
        if reply.status_code != 200:
            print(reply.json().get("message", reply.text))
            return 2
        print(HELP)
        watcher = Watcher(client, lock)
        watcher.seen = {w["window_id"]: describe(w) for w in reply.json()["windows"]}
        watcher.start()
        try:
            while True:
                try:
                    line = input("> ").strip()
                except EOFError:
                    break
                if line in ("quit", "exit"):
                    break
                with lock:
                    _command(client, line)
        finally:
            watcher.stop.set()
    return 0


def _command(client: httpx.Client, line: str) -> None:
    if not line:
        return
    if line == "help":
        print(HELP)
        return
    if line == "show":
        for w in client.get("/api/sim/devices").json()["windows"]:
            for text in describe(w):
                print(text)
        return
    try:
        path, body = request_for(line.split())
    except ValueError as e:
        print(e)
        return
    reply = client.post(path, json=body)
    data = reply.json()
    if reply.status_code != 200:
        print(f"✗ {data.get('message', data)}")
    elif "lcd" in data:
        print(f"呼叫器: {data['lcd'].replace(chr(10), ' / ')}" if data["handled"] else "呼叫器: 按键尚未被处理（总线忙或离线）")
    else:
        print("评价已提交" if data["handled"] else "评价尚未被处理（总线忙或离线）")
