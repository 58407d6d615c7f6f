// Hall board: the snapshot once, then every hall event applied in place; a new call flashes.
import { HallEvents, api, maskName } from "/static/common/hall-events.js";
import { HallState, STATE_LABELS, el, hhmm } from "/static/board/hall-state.js";

const WEEKDAYS = "日一二三四五六";
const $ = (id) => document.getElementById(id);

async function load() {
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    try { return await api("/api/board"); } catch { await new Promise((r) => setTimeout(r, wait)); }
  }
}

function shortName(w) { return w.name.replace(/^\s*\d+\s*号\s*/, "") || "综合窗口"; }

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation on a repeat call
  node.classList.add("flash");
}

function renderCurrent(state, call, fresh) {
  const box = $("current-call");
  box.classList.toggle("idle", !call);
  $("current-number").textContent = call ? call.number : "——";
  $("current-window").textContent = call ? `${call.window_number}号窗口` : "—";
  $("current-service").textContent = call ? `${call.service_name}${call.recall ? " · 重复呼叫" : ""}` : "请耐心等候叫号";
  if (fresh) flash(box);
}

function renderRecent(state) {
  // a recall shows its 重呼 tag where the time would be: one line, whatever the screen
  $("recent-calls").replaceChildren(...state.recent.map((c) => el("li", { "data-ticket": c.number },
    el("span", { class: "num", text: c.number }), el("span", { class: "win", text: `${c.window_number}号窗口` }),
    c.recall ? el("span", { class: "tag", text: "重呼" }) : el("span", { class: "at", text: hhmm(c.at) }))));
}

function windowTile(state, w) {
  const staff = w.staff_id ? state.staff[w.staff_id] : null;
  const ticket = w.ticket && w.state === "serving" ? w.ticket.number : "—";
  return el("div", { class: "win-tile", id: `win-${w.id}`, "data-state": w.state },
    el("div", { class: "no" }, String(w.number), el("small", { text: "号窗口" })),
    el("div", { class: "name", text: shortName(w), title: shortName(w) }),
    el("div", { class: "now" }, el("span", { class: "ticket", text: ticket }),
      staff ? el("span", { class: "staff", text: maskName(staff.name) }) : null,
      w.state === "serving" ? null : el("span", { class: "state", text: STATE_LABELS[w.state] || w.state })));
}

function renderWindows(state, only = null, flashId = null) {
  const grid = $("window-grid");
  const windows = [...state.windows.values()].sort((a, b) => a.number - b.number);
  if (!only) {
    grid.style.setProperty("--cols", windows.length <= 8 ? 2 : windows.length <= 24 ? 3 : 4);
    grid.replaceChildren(...windows.map((w) => windowTile(state, w)));
  }
  else for (const id of only) {
    const old = $(`win-${id}`);
    if (old) old.replaceWith(windowTile(state, state.windows.get(id)));
  }
  if (flashId && $(`win-${flashId}`)) flash($(`win-${flashId}`));
}

function renderQueues(state) {
  $("queue-list").replaceChildren(...[...state.queues.values()].map((q) =>
    el("li", { class: q.waiting ? "" : "zero", "data-category": q.category_id },
      el("span", { class: "cat", text: q.name }),
      el("span", { class: "count" }, String(q.waiting), el("small", { text: "人" })))));
  $("queue-total").textContent = state.totalWaiting();
}

function renderNotice(state) {
  const node = $("notice");
  const text = state.noticeText() || node.dataset.default;
  if (node.textContent === text) return;
  node.textContent = text;
  node.style.setProperty("--marquee-s", `${Math.max(20, [...text].length * 0.35)}s`);
}

function tickClock(state) {
  const d = state.wallClock();
  const p = (n) => String(n).padStart(2, "0");
  $("clock-time").textContent = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  $("clock-date").textContent = `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日 星期${WEEKDAYS[d.getUTCDay()]}`;
}

async function main() {
  const snapshot = await load();
  const state = new HallState(snapshot);
  window.hallState = state;
  $("hall-name").textContent = state.hall;
  renderCurrent(state, state.recent[0], false);
  renderRecent(state);
  renderWindows(state);
  renderQueues(state);
  renderNotice(state);
  tickClock(state);
  setInterval(() => { tickClock(state); renderNotice(state); }, 1000);

  // Exposed so tests (and a technician at the console) can drop the connection and watch it resume.
  window.hallEvents = new HallEvents({
    since: snapshot.seq,
    onEvent: (event) => {
      const changed = state.apply(event);
      if (changed.call) { renderCurrent(state, changed.call, true); renderRecent(state); }
      if (changed.windows.size) renderWindows(state, changed.windows, changed.call && changed.call.window_id);
      if (changed.queues) renderQueues(state);
      if (changed.notice) renderNotice(state);
    },
    onStatus: (online) => {
      $("link").dataset.online = String(online);
      $("link").querySelector("span").textContent = online ? "实时" : "重新连接中";
    },
  });
}

main();
