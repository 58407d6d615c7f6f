// Manager live board: renders GET /api/manager/overview (the server computes every figure and alert), and
// re-fetches it on every hall event (coalesced: one request in flight, at most one queued) and every few
// seconds for the time-based alerts. Actions call the manager API with the token kept in sessionStorage.
import { HallEvents, api } from "/static/common/hall-events.js";
import "/static/common/validation.js";  // the sign-in and notice forms' checks in Chinese

const TOKEN = "hall.manager.token";
const NAME = "hall.manager.name";
const STATE_NAMES = { open: "空闲", serving: "办理中", paused: "暂停服务", closed: "已关闭", signed_out: "未签到" };
const RATING_COLOURS = ["#1f9d55", "#62b36f", "#c9b03a", "#e0792a", "#c8102e"];
const $ = (sel) => document.querySelector(sel);

let token = sessionStorage.getItem(TOKEN);
let data = null;
let stream = null;
let clockOffset = 0; // hall clock − browser clock, ms
let tzMs = 0; // the hall's UTC offset, ms
let inflight = false;
let queued = false;
let timer = null;
let editing = null; // window being re-assigned
let armed = null; // {id, until}: a close button clicked once, awaiting its confirming click (survives re-renders)

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
const minutes = (s) => (s === null || s === undefined ? "—" : `${(s / 60).toFixed(1)}`);

function duration(s) {
  if (s === null || s === undefined) return "";
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s}秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}分${String(s % 60).padStart(2, "0")}秒`;
  return `${Math.floor(m / 60)}时${String(m % 60).padStart(2, "0")}分`;
}

const hallNow = () => Date.now() + clockOffset;
const since = (iso) => (iso ? (hallNow() - Date.parse(iso)) / 1000 : null);

function toast(text, bad = false) {
  const el = $("#toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.hidden = true; }, 3000);
}

async function act(path, options = {}) {
  try {
    const result = await api(path, { ...options, token });
    refresh();
    return result;
  } catch (err) {
    if (err.status === 401) return signOut(err.message);
    toast(err.message, true);
    throw err;
  }
}

// ------------------------------------------------------------------------------------------ sign-in

function showLogin(message = "") {
  $("#login").hidden = false;
  $("#board").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message;
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN);
  token = null;
  if (stream) { stream.stop(); stream = null; }
  clearInterval(timer);
  showLogin(message);
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const r = await api("/api/manager/sign-in", { method: "POST", body: { manager_id: form.get("manager_id"), password: form.get("password") } });
    token = r.token;
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(NAME, r.manager.name);
    e.target.reset();
    start();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
});
$("#sign-out").addEventListener("click", () => {
  // Revoke the token on the server too: a copy of it must not outlive the sign-out.
  if (token) api("/api/manager/sign-out", { method: "POST", token }).catch(() => {});
  signOut();
});

// ------------------------------------------------------------------------------------------ refresh loop

async function refresh() {
  if (!token) return;
  if (inflight) { queued = true; return; }
  inflight = true;
  try {
    data = await api("/api/manager/overview", { token });
    const tz = /([+-])(\d\d):(\d\d)$/.exec(data.at);
    tzMs = tz ? (tz[1] === "-" ? -1 : 1) * (Number(tz[2]) * 60 + Number(tz[3])) * 60000 : 0;
    clockOffset = Date.parse(data.at) - Date.now();
    render();
    if (!stream) {
      stream = new HallEvents({
        since: data.seq,
        onEvent: () => refresh(),
        onStatus: (online) => {
          $("#link").dataset.online = online;
          $("#link span").textContent = online ? "实时" : "重连中";
        },
      });
    }
  } catch (err) {
    if (err.status === 401 || err.status === 403) signOut(err.message);
  } finally {
    inflight = false;
    if (queued) { queued = false; refresh(); }
  }
}

async function loadStaffing() {
  if (!token) return;
  const r = await fetch("/api/staffing", { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  const panel = $("#staffing");
  if (!r || r.status !== 200) { panel.hidden = true; return; }
  const body = await r.json();
  renderStaffingTable(body);
  const advice = body.advice || [];
  $("#staffing-advice").innerHTML = advice.length ? advice.map((a) => `<li>${esc(a)}</li>`).join("") : "<li>当前人员配置合理</li>";
  panel.hidden = false;
}

// Themes × the current and next two half-hours (the advice's horizon): each theme's load (windows' worth of work)
// and the windows the pool gives it, themes missing the target marked; the total row: needed over the shared
// pool / at work, with the windows to add or that can be released.
const STAFFING_SLOTS = 3;

function renderStaffingTable(body) {
  const slots = body.slots || [];
  const first = slots.findIndex((s) => !s.past);
  const shown = first < 0 ? [] : slots.slice(first, first + STAFFING_SLOTS).map((s, k) => [first + k, s]);
  const head = `<tr><th>主题</th>${shown.map(([, s]) => `<th class="num">${esc(s.slot)}</th>`).join("")}</tr>`;
  const cell = (row) => {
    const title = `每小时约 ${row.arrivals_per_hour} 人，负荷约 ${row.load} 个窗口；分配 ${row.windows_open} 个窗口` +
      (row.short ? "，未达目标" : "");
    return `<td class="num${row.short ? " short" : ""}" title="${esc(title)}">${esc(row.load)}/${esc(row.windows_open)}${row.short ? " <b>不足</b>" : ""}</td>`;
  };
  const rows = (body.themes || []).map((t) =>
    `<tr data-theme="${esc(t.category_id)}"><td>${esc(t.name)}</td>${shown.map(([i]) => cell(t.rows[i])).join("")}</tr>`).join("");
  const totalCell = (s) => {
    const note = s.short ? ` <b>缺${esc(s.short)}</b>` : s.spare ? ` <i>可释放${esc(s.spare)}</i>` : "";
    return `<td class="num${s.short ? " short" : ""}">${esc(s.windows_needed)}/${esc(s.windows_open)}${note}</td>`;
  };
  const total = `<tr class="total"><td>合计 需要/在岗</td>${shown.map(([, s]) => totalCell(s)).join("")}</tr>`;
  $("#staffing-table").innerHTML = shown.length ? `<thead>${head}</thead><tbody>${rows}${total}</tbody>` : "";
  const target = body.target?.text;
  $("#staffing-target").textContent = target ? `目标：${target}。` : "";
}

function start() {
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = sessionStorage.getItem(NAME) || "";
  refresh().then(() => {
    const every = (data?.settings?.refresh_seconds || 5) * 1000;
    clearInterval(timer);
    timer = setInterval(refresh, every);
  });
  loadStaffing();
  setInterval(loadStaffing, 60000);
}

// ------------------------------------------------------------------------------------------ rendering

function render() {
  renderKpis();
  renderWindows();
  renderThemes();
  renderAlerts();
  renderNotice();
  $("#chart-slots").innerHTML = slotChart(data.charts.per_slot);
  $("#chart-waiting").innerHTML = waitingChart(data.charts.waiting);
  $("#chart-ratings").innerHTML = ratingChart(data.charts.ratings);
  tick();
}

function renderKpis() {
  const k = data.kpis;
  const s = data.settings;
  const sat = k.satisfaction;
  const cards = [
    ["今日取号", k.issued, `等候中 ${k.waiting} 人`, ""],
    ["已办结", k.served, `过号 ${k.no_show} · 取消 ${k.cancelled}`, ""],
    ["平均等候(分)", minutes(k.avg_wait_s), `目标 ${s.target_wait_minutes} 分钟`, k.avg_wait_s > s.target_wait_minutes * 60 ? "bad" : ""],
    ["90%等候(分)", minutes(k.p90_wait_s), `上限 ${s.max_wait_minutes} 分钟`, k.p90_wait_s > s.max_wait_minutes * 60 ? "bad" : ""],
    ["目标内办理占比", pct(k.within_target), `等候 ≤ ${s.target_wait_minutes} 分钟`, k.within_target !== null && k.within_target < 0.8 ? "bad" : "good"],
    ["过号率", pct(k.no_show_rate), "过号 ÷ (办结 + 过号)", ""],
    ["平均办理(分)", minutes(k.avg_service_s), `已叫号 ${k.called} 人`, ""],
    ["满意率", pct(sat.rate), `${sat.ratings} 次评价 · 差评 ${sat.bad}`, sat.bad ? "bad" : "good"],
  ];
  const v = data.supervision;  // month to date: 有效差评 100% 整改, 实名差评 100% 回复
  if (v) {
    cards.push(["本月整改率", pct(v.rectify_rate), `有效差评 ${v.valid} · 超期 ${v.overdue}`, v.overdue || (v.rectify_rate !== null && v.rectify_rate < 1) ? "bad" : "good"],
      ["本月回复率", pct(v.reply_rate), `实名差评 ${v.named} · 投诉超期 ${v.complaints_overdue}`, v.complaints_overdue || (v.reply_rate !== null && v.reply_rate < 1) ? "bad" : "good"]);
    if (v.standin_warnings.length) cards.push(["B岗预警", v.standin_warnings.length, v.standin_warnings[0], "bad"]);
  }
  $("#kpis").innerHTML = cards.map(([label, value, sub, cls]) =>
    `<div class="kpi ${cls}" data-kpi="${esc(label)}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="sub">${esc(sub)}</div></div>`).join("");
}

function renderWindows() {
  const limit = data.settings.pause_alert_minutes * 60;
  const counts = {};
  for (const w of data.windows) counts[w.state] = (counts[w.state] || 0) + 1;
  $("#window-summary").textContent = Object.entries(counts).map(([k, n]) => `${STATE_NAMES[k]} ${n}`).join(" · ");
  $("#windows tbody").innerHTML = data.windows.map((w) => {
    const t = w.ticket;
    const began = t ? (t.started_at || t.called_at) : null;
    const staff = w.staff ? `${esc(w.staff.name)} <span class="tag">${esc(w.staff.id)}${w.staff.standin ? " 替岗" : ""}</span>` : "—";
    const warn = w.state === "paused" && w.for_s >= limit && w.waiting_for ? "warn" : "";
    const reason = w.state === "paused" && w.pause_reason ? `<span class="tag">${esc(w.pause_reason)}</span>` : "";
    const toggle = w.state === "closed"
      ? `<button class="ghost" data-open="${esc(w.id)}">开启</button>`
      : `<button class="danger" data-close="${esc(w.id)}" ${t ? "disabled title=\"办结后才能关闭\"" : ""}>${isArmed(w.id) ? "确认关闭" : "关闭"}</button>`;
    return `<tr data-window="${esc(w.id)}" data-state="${esc(w.state)}">
      <td>${esc(w.name)}${w.label ? `<span class="tag">${esc(w.label)}</span>` : ""}${w.custom_categories ? '<span class="custom">已调整分类</span>' : ""}</td>
      <td><span class="state state-${esc(w.state)}">${STATE_NAMES[w.state] || esc(w.state)}</span><span class="for ${warn}" data-since="${esc(w.since || "")}"></span>${reason}</td>
      <td>${staff}</td>
      <td class="ticket-no">${t ? esc(t.number) : ""}</td>
      <td class="num" data-since="${esc(began || "")}"></td>
      <td class="num">${w.waiting_for}</td>
      <td class="num">${w.served}</td>
      <td class="num">${pct(w.satisfaction.rate)}</td>
      <td class="actions">${toggle}${w.mode === "special" ? "" : `<button class="ghost" data-categories="${esc(w.id)}">分类</button>`}</td>
    </tr>`;
  }).join("");
}

function isArmed(id) { return armed !== null && armed.id === id && Date.now() < armed.until; }

function renderThemes() {
  const rows = [];
  for (const c of data.categories) {
    const services = data.services.filter((s) => s.category_id === c.category_id);
    if (!c.general && !c.issued && !c.waiting) continue;
    rows.push(statRow("theme", c.name, c, null));
    for (const s of services) rows.push(statRow("service", s.name, s, s.satisfaction));
  }
  $("#themes tbody").innerHTML = rows.join("");
}

function statRow(cls, name, s, sat) {
  const long = s.longest_wait_s > data.settings.max_wait_minutes * 60 ? "warn" : "";
  return `<tr class="${cls}"><td>${esc(name)}</td><td class="num">${s.waiting}</td>
    <td class="num ${long}">${s.waiting ? duration(s.longest_wait_s) : "—"}</td><td class="num">${s.avg_wait_s === null ? "—" : `${minutes(s.avg_wait_s)} 分`}</td>
    <td class="num">${s.issued}</td><td class="num">${s.served}</td><td class="num">${sat ? pct(sat.rate) : ""}</td></tr>`;
}

function renderAlerts() {
  const open = data.alerts.filter((a) => !a.acknowledged_by).length;
  const badge = $("#alert-count");
  badge.textContent = open;
  badge.className = open ? "badge" : "badge zero";
  $("#alerts").innerHTML = data.alerts.length ? data.alerts.map((a) => `
    <li class="${esc(a.level)} ${a.acknowledged_by ? "acknowledged" : ""}" data-alert="${esc(a.id)}" data-kind="${esc(a.kind)}">
      <div class="title">${esc(a.title)}</div>
      <div class="detail">${esc(a.detail)}</div>
      <div class="meta"><span>持续 <span data-since="${esc(a.since)}"></span></span>
        ${a.kind === "lockout" ? `<button class="ghost" data-unlock="${esc(a.subject.account)}">解除等待</button>` : ""}
        ${a.acknowledged_by ? `<span>已由 ${esc(a.acknowledged_by)} 确认</span>` : `<button class="ghost" data-ack="${esc(a.id)}">确认知悉</button>`}</div>
    </li>`).join("") : '<li class="none">暂无预警，大厅运行正常</li>';
}

function renderNotice() {
  const n = data.notice;
  $("#notice-current").textContent = n ? `当前公告：${n.text}（${n.by} 发布${n.until ? `，至 ${n.until.slice(11, 16)}` : ""}）` : "当前无公告";
}

// Durations count up every second between refreshes.
function tick() {
  for (const el of document.querySelectorAll("[data-since]")) {
    el.textContent = el.dataset.since ? duration(since(el.dataset.since)) : "";
  }
  const d = new Date(hallNow() + tzMs);
  $("#clock").textContent = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}
setInterval(tick, 1000);

// ------------------------------------------------------------------------------------------ charts (inline SVG)

const W = 560;
const H = 200;
const PAD = { l: 34, r: 8, t: 10, b: 24 };

function axes(max, width = W) {
  const lines = [];
  const step = niceStep(max);
  for (let v = 0; v <= max; v += step) {
    const y = PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
    lines.push(`<line x1="${PAD.l}" x2="${width - PAD.r}" y1="${y}" y2="${y}" stroke="#e3e8f0"/>`,
      `<text x="${PAD.l - 4}" y="${y + 4}" text-anchor="end">${v}</text>`);
  }
  return lines.join("");
}

function niceStep(max) {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag * 10;
}

function slotChart(slots) {
  const max = Math.max(4, ...slots.map((s) => Math.max(s.arrivals, s.services)));
  const top = Math.ceil(max / niceStep(max)) * niceStep(max);
  const inner = W - PAD.l - PAD.r;
  const bw = inner / Math.max(slots.length, 1);
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / top);
  const bars = slots.map((s, i) => {
    const x = PAD.l + i * bw;
    const label = i % 2 === 0 ? `<text x="${x + bw / 2}" y="${H - 8}" text-anchor="middle">${s.slot}</text>` : "";
    return `<rect x="${x + 2}" y="${y(s.arrivals)}" width="${bw / 2 - 2}" height="${y(0) - y(s.arrivals)}" fill="#12479e"><title>${s.slot} 取号 ${s.arrivals}</title></rect>
      <rect x="${x + bw / 2}" y="${y(s.services)}" width="${bw / 2 - 2}" height="${y(0) - y(s.services)}" fill="#1f9d55"><title>${s.slot} 办结 ${s.services}</title></rect>${label}`;
  }).join("");
  return `<div class="legend"><span><i style="background:#12479e"></i>取号</span><span><i style="background:#1f9d55"></i>办结</span></div>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="每半小时取号与办结">${axes(top)}${bars}</svg>`;
}

function waitingChart(points) {
  if (points.length < 2) return '<p class="legend">开门后显示</p>';
  const max = Math.max(4, ...points.map((p) => p.waiting));
  const top = Math.ceil(max / niceStep(max)) * niceStep(max);
  const width = 400; // drawn for its narrower card, so the labels stay legible when scaled
  const inner = width - PAD.l - PAD.r;
  const x = (i) => PAD.l + (inner * i) / (points.length - 1);
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / top);
  const line = points.map((p, i) => `${x(i)},${y(p.waiting)}`).join(" ");
  const area = `${PAD.l},${y(0)} ${line} ${x(points.length - 1)},${y(0)}`;
  const every = Math.max(1, Math.ceil(points.length / 5));
  const labels = points.map((p, i) => (i % every === 0 ? `<text x="${x(i)}" y="${H - 8}" text-anchor="middle">${p.at}</text>` : "")).join("");
  const last = points[points.length - 1];
  return `<div class="legend"><span>当前等候 ${last.waiting} 人</span></div>
    <svg viewBox="0 0 ${width} ${H}" role="img" aria-label="等候人数变化">${axes(top, width)}
    <polygon points="${area}" fill="rgba(18,71,158,.15)"/><polyline points="${line}" fill="none" stroke="#12479e" stroke-width="2"/>${labels}</svg>`;
}

function ratingChart(levels) {
  const total = levels.reduce((n, l) => n + l.count, 0);
  const max = Math.max(1, ...levels.map((l) => l.count));
  const rowH = 34;
  const width = 360; // a narrow card: a narrow drawing keeps the labels legible
  const bars = levels.map((l, i) => {
    const w = ((width - 190) * l.count) / max;
    const y = 8 + i * rowH;
    return `<text x="96" y="${y + 17}" text-anchor="end" style="font-size:14px">${l.name}</text>
      <rect x="104" y="${y + 3}" width="${w}" height="20" rx="3" fill="${RATING_COLOURS[i]}"/>
      <text x="${110 + w}" y="${y + 17}" style="font-size:14px">${l.count}${total ? `（${((100 * l.count) / total).toFixed(0)}%）` : ""}</text>`;
  }).join("");
  return `<div class="legend"><span>共 ${total} 次评价</span></div><svg viewBox="0 0 ${width} ${8 + rowH * 5}" role="img" aria-label="评价分布">${bars}</svg>`;
}

// ------------------------------------------------------------------------------------------ actions

document.addEventListener("click", async (e) => {
  const b = e.target.closest("button");
  if (!b) return;
  if (b.dataset.open) {
    await act(`/api/manager/windows/${encodeURIComponent(b.dataset.open)}/open`, { method: "POST" }).catch(() => {});
  } else if (b.dataset.close) {
    // Closing signs the staff out: the first click arms the button, a second within 3 s confirms.
    if (!isArmed(b.dataset.close)) {
      armed = { id: b.dataset.close, until: Date.now() + 3000 };
      b.textContent = "确认关闭";
      setTimeout(() => { if (data) renderWindows(); }, 3100);
      return;
    }
    armed = null;
    await act(`/api/manager/windows/${encodeURIComponent(b.dataset.close)}/close`, { method: "POST" }).catch(() => {});
  } else if (b.dataset.categories) {
    openCategories(b.dataset.categories);
  } else if (b.dataset.ack) {
    await act("/api/manager/alerts/acknowledge", { method: "POST", body: { alert_id: b.dataset.ack } }).catch(() => {});
  } else if (b.dataset.unlock) {  // "staff:QH1001" / "manager:boss": every wait on its wrong tries, recorded with who
    const [kind, id] = [b.dataset.unlock.split(":")[0], b.dataset.unlock.slice(b.dataset.unlock.indexOf(":") + 1)];
    await act("/api/manager/lockouts/clear", { method: "POST", body: { [`${kind}_id`]: id } }).catch(() => {});
  }
});

function openCategories(windowId) {
  const w = data.windows.find((x) => x.id === windowId);
  editing = w;
  $("#categories-title").textContent = `调整 ${w.name} 的分类`;
  $("#categories-error").textContent = "";
  $("#categories-list").innerHTML = data.categories.map((c) => {
    const weight = w.categories[c.category_id];
    return `<label data-category="${esc(c.category_id)}"><input type="checkbox" ${weight ? "checked" : ""}>
      <span>${esc(c.name)}${c.general ? "" : '<span class="tag">专项</span>'}</span>
      <input type="number" min="1" max="100" step="1" value="${weight || 1}" aria-label="${esc(c.name)}权重"></label>`;
  }).join("");
  $("#categories-dialog").showModal();
}

async function saveCategories(weights) {
  try {
    await api(`/api/manager/windows/${encodeURIComponent(editing.id)}/categories`, { method: "POST", body: { weights }, token });
    $("#categories-dialog").close();
    toast(weights ? `${editing.name} 分类已调整` : `${editing.name} 已恢复配置的分类`);
    refresh();
  } catch (err) {
    $("#categories-error").textContent = err.message;
  }
}

$("#categories-save").addEventListener("click", () => {
  const weights = {};
  for (const label of document.querySelectorAll("#categories-list label")) {
    const [check, number] = label.querySelectorAll("input");
    if (check.checked) weights[label.dataset.category] = Number(number.value);
  }
  if (!Object.keys(weights).length) { $("#categories-error").textContent = "至少选择一个分类。"; return; }
  saveCategories(weights);
});
$("#categories-reset").addEventListener("click", () => saveCategories(null));
$("#categories-cancel").addEventListener("click", () => $("#categories-dialog").close());

$("#notice-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const minutesValue = form.get("minutes");
  const body = { text: form.get("text") };
  if (minutesValue) body.minutes = Number(minutesValue);
  await act("/api/manager/notice", { method: "POST", body }).then(() => { e.target.reset(); toast("公告已发布到综合屏"); }).catch(() => {});
});
$("#notice-withdraw").addEventListener("click", () => act("/api/manager/notice", { method: "DELETE" }).then(() => toast("公告已撤下")).catch(() => {}));

if (token) start(); else showLogin();
