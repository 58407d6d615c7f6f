// 报表中心: manager sign-in (token in sessionStorage), reports as tables and SVG chart images, downloads.
import { api } from "/static/common/hall-events.js";
import "/static/common/validation.js";  // form checks in Chinese

const TOKEN = "hall.manager.token";
const $ = (s) => document.querySelector(s);
let tab = "service";

function fmt(v, kind) {
  if (v === null || v === undefined) return "—";
  if (kind === "share") return (v * 100).toFixed(1) + "%";
  if (kind === "minutes") return Number(v).toFixed(1);
  return String(v);
}

function renderTable(columns, rows, totalRow) {
  const t = $("#table");
  t.replaceChildren();
  const head = t.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c.name; head.append(th); }
  for (const r of rows) {
    const tr = t.insertRow();
    if (r === totalRow) tr.className = "total";
    for (const c of columns) tr.insertCell().textContent = fmt(r[c.key], c.kind);
  }
}

function showCharts(svgs) {
  const box = $("#charts");
  box.replaceChildren();
  for (const svg of svgs) {
    const img = new Image();
    img.src = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    img.alt = "报表图表";
    box.append(img);
  }
}

// Tabs on a period (a day, week or month) rather than a month; 整改与回复 and 差评原因 come from /api/supervision.
const PERIOD_TABS = ["service", "rectification", "causes"];

function query() {
  const f = new FormData($("#controls"));
  if (tab === "service") return `period=${f.get("period")}&date=${f.get("date")}&by=${f.get("by")}`;
  if (tab === "rectification") {  // grouped by hall, window, staff or service (not theme)
    const by = ["window", "staff", "service"].includes(f.get("by")) ? f.get("by") : "all";
    return `period=${f.get("period")}&date=${f.get("date")}&by=${by}`;
  }
  if (tab === "causes") return `period=${f.get("period")}&date=${f.get("date")}`;
  return `month=${f.get("month")}`;
}

const CAUSE_COLS = [["label", "原因"], ["count", "次数", "int"], ["share", "占差评比例", "share"], ["valid", "其中有效", "int"],
  ["previous", "上期次数", "int"], ["change", "增减", "int"]].map(([key, name, kind]) => ({ key, name, kind: kind || "text" }));

const ATT_COLS = [["staff_id", "工号"], ["name", "姓名"], ["unit", "单位"], ["days_present", "出勤天数"], ["late", "迟到次数"],
  ["late_minutes", "迟到分钟"], ["early", "早退次数"], ["early_minutes", "早退分钟"], ["absent_sessions", "缺勤(半天)"], ["leave_sessions", "请假(半天)"],
  ["forgotten_sign_outs", "未签离"], ["standin_sign_ins", "替岗签到"], ["worked_hours", "签到时长(小时)"]]
  .map(([key, name]) => ({ key, name, kind: "text" }));
const DAY_COLS = [["day", "日期"], ["issued", "取号"], ["served", "办结"], ["no_show", "过号"], ["closed_out", "日终结转"],
  ["wait_mean", "平均等候(分)", "minutes"], ["within_target", "目标内叫号率", "share"], ["satisfaction", "满意率", "share"],
  ["closed_at", "闭厅时间"]].map(([key, name, kind]) => ({ key, name, kind: kind || "text" }));

async function load() {
  $("#error").textContent = "";
  const token = sessionStorage.getItem(TOKEN);
  try {
    if (tab === "service") {
      const r = await api(`/api/reports/service?${query()}`, { token });
      $("#title").textContent = `服务${r.period_name}（${r.start} 至 ${r.end}）· 按${r.group_name}`;
      showCharts([r.charts.volume, r.charts.wait]);
      renderTable(r.columns, [...r.rows, r.total], r.total);
      $("#note").textContent = `等候目标 ${r.target_wait_minutes} 分钟；P90 为最近秩百分位；` +
        (r.ratings_available ? "满意率 = 非差评评价占比。" : "未启用好差评，满意率显示为“—”。") +
        r.bundles.map((b) => `一件事“${b.name}”办结 ${b.bundles} 件、${b.matters} 个事项。`).join("");
    } else if (tab === "attendance") {
      const r = await api(`/api/reports/attendance?${query()}`, { token });
      $("#title").textContent = `${r.month} 考勤月报`;
      showCharts([]);
      renderTable(ATT_COLS, r.staff);
      $("#note").textContent = "按排班逐段判定（未发布排班的周按全员全天）：迟到、早退、缺勤（半天）、未签离；经批准的请假记为请假，不计缺勤；替岗（AB岗）单列。" +
        (r.counted_from > r.start ? `系统自 ${r.counted_from} 起有记录，此前不计缺勤。` : "");
    } else if (tab === "rectification") {
      const r = await api(`/api/supervision/rectification?${query()}`, { token });
      $("#title").textContent = `差评整改与投诉答复（${r.start} 至 ${r.end}）· 按${r.group_name}`;
      showCharts([r.chart]);
      renderTable(r.columns, [...r.rows, r.total], r.total);
      $("#note").textContent = "整改率 = 已整改的有效差评 ÷ 有效差评；回复率 = 已回复的实名差评 ÷ 实名差评；按时办结率 = 每步均按期的已办结案件 ÷ 已办结案件。";
    } else if (tab === "causes") {
      const r = await api(`/api/supervision/causes?${query()}`, { token });
      $("#title").textContent = `差评原因分析（${r.start} 至 ${r.end}，差评 ${r.bad} 条，上期 ${r.previous_bad} 条）`;
      showCharts([r.charts.reasons, r.charts.trend]);
      renderTable(CAUSE_COLS, r.reasons);
      $("#note").textContent = r.top.length ? "主要原因：" + r.top.map((t) => `${t.label} ${t.count} 次（较上期${t.trend}）`).join("；") : "";
    } else {
      const r = await api(`/api/reports/days?${query()}`, { token });
      $("#title").textContent = `${r.month} 每日小结（闭厅时生成）`;
      showCharts([]);
      renderTable(DAY_COLS, r.days.map((d) => ({ day: d.day, ...(d.summary || {}),
        closed_at: d.so_far ? "办理中（截至目前）" : (d.closed_at || "").slice(11, 16) })));
      $("#note").textContent = r.days.some((d) => d.so_far) ? "今日尚未闭厅：今日一行为截至目前的数字，闭厅时生成正式小结。" : "";
    }
  } catch (e) {
    if (e.status === 401) return signOut();
    $("#error").textContent = e.message;
  }
}

async function download(format) {
  const path = PERIOD_TABS.includes(tab) && tab !== "service" ? `supervision/${tab}` : `reports/${tab === "service" ? "service" : "attendance"}`;
  const res = await fetch(`/api/${path}.${format}?${query()}`,
    { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` } });
  if (!res.ok) { $("#error").textContent = (await res.json()).message; return; }
  const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "")?.[1] || `report.${format}`;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = name;
  a.click();
}

function signOut() {
  sessionStorage.removeItem(TOKEN);
  $("#main").hidden = true;
  $("#signin").hidden = false;
}

function setTab(name) {
  tab = name;
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const el of document.querySelectorAll(".for-service")) el.hidden = !PERIOD_TABS.includes(name);
  $("select[name=by]").parentElement.hidden = !["service", "rectification"].includes(name);
  $(".for-month").hidden = PERIOD_TABS.includes(name);
  for (const b of document.querySelectorAll(".download")) b.hidden = name === "days";
  load();
}

$("#signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api("/api/manager/sign-in", { method: "POST", body: { manager_id: f.get("manager_id"), password: f.get("password") } });
    sessionStorage.setItem(TOKEN, r.token);
    $("#who").textContent = r.manager.name;
    start();
  } catch (e) { $("#signin-error").textContent = e.message; }
});
$("#controls").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
for (const b of document.querySelectorAll(".download")) b.addEventListener("click", () => download(b.dataset.format));
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => setTab(b.dataset.tab));

function start() {
  $("#signin").hidden = true;
  $("#main").hidden = false;
  setTab(tab);
}

if (sessionStorage.getItem(TOKEN)) start(); else signOut();
