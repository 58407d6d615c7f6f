// Window display: this window's current number, its staff card (公开), and the 暂停服务 sign.
import { HallEvents, api } from "/static/common/hall-events.js";
import { HallState } from "/static/board/hall-state.js";

const $ = (id) => document.getElementById(id);
const windowId = $("display").dataset.window;

async function load() {
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    try { return await api("/api/board"); } catch { await new Promise((r) => setTimeout(r, wait)); }
  }
}

function render(state, fresh) {
  const w = state.windows.get(windowId);
  const display = $("display");
  display.dataset.state = w.state;
  $("window-name").textContent = w.name.replace(/^\s*\d+\s*号\s*/, "") || w.name;

  const staff = w.staff_id ? state.staff[w.staff_id] : null;
  $("staff-card").classList.toggle("vacant", !staff);
  if (staff) {
    if ($("staff-photo").getAttribute("src") !== staff.photo_url) $("staff-photo").src = staff.photo_url;
    $("staff-name").textContent = staff.name;
    $("staff-id").textContent = staff.id;
    $("staff-unit").textContent = staff.unit;
    $("staff-standin").hidden = !w.standin;
  }

  const serving = w.state === "serving" && w.ticket;
  $("now-label").textContent = serving ? (w.ticket.status === "called" ? "正在呼叫" : "正在办理") : "等待叫号";
  $("current-number").textContent = serving ? w.ticket.number : "——";
  $("current-service").textContent = serving ? w.ticket.service_name : "";

  $("paused-sign").hidden = w.state !== "paused";
  $("paused-reason").textContent = w.pause_reason ? `${w.pause_reason} · 请稍候，或到其他窗口办理` : "请稍候，或到其他窗口办理";
  const closed = w.state === "closed" || w.state === "signed_out";
  $("closed-sign").hidden = !closed;
  $("closed-text").textContent = w.state === "closed" ? "窗口关闭" : "暂未开放";

  if (fresh) {
    const box = document.querySelector(".now-serving");
    box.classList.remove("flash");
    void box.offsetWidth;
    box.classList.add("flash");
  }
}

async function main() {
  const snapshot = await load();
  const state = new HallState(snapshot);
  window.hallState = state;
  render(state, false);
  window.hallEvents = new HallEvents({
    since: snapshot.seq,
    onEvent: (event) => {
      const changed = state.apply(event);
      const call = changed.call && changed.call.window_id === windowId;
      if (call || changed.windows.has(windowId)) render(state, call);
    },
    onStatus: (online) => {
      $("link").dataset.online = String(online);
      $("link").querySelector("span").textContent = online ? "实时" : "重新连接中";
    },
  });
}

main();
