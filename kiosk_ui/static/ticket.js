// The citizen's ticket page (/t/{token}) on a phone: the ticket's place and the numbers being called,
// refreshed on every hall event of its kind, and after a reconnect.
import { HallEvents, api } from "/static/common/hall-events.js";
import "/static/common/validation.js";  // form checks in Chinese

const TOKEN = document.body.dataset.token;
const $ = (sel) => document.querySelector(sel);
const STATES = {
  waiting: "等候中", called: "请前往窗口办理", serving: "正在办理", finished: "已办结，感谢您的耐心等候",
  no_show: "已过号，请到服务台咨询", cancelled: "已取消",
};
let timer = null;

async function refresh() {
  let data;
  try {
    data = await api(`/api/t/${TOKEN}`);
  } catch (err) {
    if (err.status === 404) { $("#number").textContent = "—"; $("#state").textContent = err.message; return; }
    $("#offline").hidden = false;
    return;
  }
  $("#offline").hidden = true;
  const t = data.ticket;
  $("#number").textContent = t.number;
  $("#service").textContent = t.service_name;
  $("#state").textContent = STATES[t.status] || t.status;
  document.body.dataset.status = t.status;
  const called = t.status === "called" || t.status === "serving";
  $("#call").hidden = !called;
  $("#window").textContent = called ? (t.window_name || `${t.window_number} 号窗口`) : "";
  const waiting = t.status === "waiting";
  $("#ahead").textContent = waiting ? `${t.ahead} 人` : "—";
  $("#wait").textContent = waiting ? t.wait_short : "—";
  const list = $("#serving");
  // What the windows that can call this ticket hold right now (a number is gone once it is finished).
  list.replaceChildren(...(data.now_serving.length ? data.now_serving.map((s) => {
    const li = document.createElement("li");
    li.textContent = `${s.window_number} 号窗口：${s.number}${s.status === "called" ? "（叫号中）" : ""}`;
    return li;
  }) : [Object.assign(document.createElement("li"), { textContent: "暂无" })]));
  $("#updated").textContent = `更新于 ${data.at.slice(11, 19)}`;  // the hall's clock, not the phone's
  if (called && navigator.vibrate) navigator.vibrate(400);
  if (t.status === "finished") await Promise.all([showRating(), applications()]);
  else $("#rate").hidden = $("#rated").hidden = $("#applications").hidden = true;
}

// A rated ticket shows its rating, not the form again (after a reload too).
async function showRating() {
  const mine = await api(`/api/ratings/ticket/${TOKEN}`).catch(() => null);
  const rated = Boolean(mine && mine.rated);
  if (rated) $("#rated-text").textContent = `您已评价：${mine.label}。感谢您的评价！`;
  $("#rated").hidden = !rated;
  $("#rate").hidden = rated;
}

// The 办件 of this ticket (features/applications): its status, deadline, what to bring back, when to collect.
async function applications() {
  const data = await api(`/api/t/${TOKEN}/applications`).catch(() => ({ applications: [] }));
  $("#applications").hidden = !data.applications.length;
  $("#application-list").replaceChildren(...data.applications.map((a) => {
    const li = document.createElement("li");
    const open = a.status === "accepted" || a.status === "processing";
    const due = open && a.due_at ? `，承诺 ${a.due_at.slice(0, 10)} 前办结` : "";
    const more = a.status === "supplement" ? `。请补正：${a.missing.join("、")}`
      : a.status === "ready" ? "。请凭办件编号或身份证到自助取号机取“出件”号领取"
      : a.status === "mailed" && a.waybill ? `。运单号 ${a.waybill}`
      : a.commitment_due ? `。容缺材料请于 ${a.commitment_due.slice(0, 10)} 前补交` : "";
    li.textContent = `${a.service_name}（${a.application_no}）：${a.status_label}${due}${more}`;
    return li;
  }));
}

// 好差评 on the phone (一事一评): offered once the service is finished; the controller decides whether
// this ticket may still be rated (one rating per ticket, within the online period) and says why not.
let level = null;

async function loadReasons() {
  const data = await api("/api/ratings/reasons").catch(() => ({ reasons: [] }));
  if (data.comment_max !== undefined) $("#comment").maxLength = data.comment_max;
  countComment();
  $("#reasons").append(...data.reasons.map((r) => {
    const label = document.createElement("label");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: r.code });
    label.append(box, r.label);
    return label;
  }));
}

function countComment() {
  $("#comment-count").textContent = `${$("#comment").value.length}/${$("#comment").maxLength}`;
}
$("#comment").addEventListener("input", countComment);

$("#levels").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-level]");
  if (!button) return;
  level = Number(button.dataset.level);
  for (const b of $("#levels").children) b.classList.toggle("chosen", b === button);
  $("#reasons").hidden = level < 4;
  $("#rate-send").disabled = false;
});

$("#rate-send").addEventListener("click", async () => {
  const reasons = level >= 4 ? [...$("#reasons").querySelectorAll("input:checked")].map((b) => b.value) : [];
  $("#rate-send").disabled = true;
  try {
    await api("/api/ratings", { method: "POST", body: {
      token: TOKEN, level, channel: "mobile", reasons, rater: $("#rater").value.trim() || null,
      comment: $("#comment").value.trim() || null } });
    $("#rate-msg").textContent = "感谢您的评价！";
    for (const el of $("#rate").querySelectorAll("button, input, textarea")) el.disabled = true;
  } catch (err) {
    $("#rate-msg").textContent = err.message;  // e.g. 已评价 / 已超过网上评价期限
    $("#rate-send").disabled = err.status === 409;
  }
});

function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 200);
}

const first = await api("/api/hall").catch(() => null);
await loadReasons();
await refresh();
new HallEvents({
  since: first ? first.seq : null,
  onEvent: (e) => { if (/^(ticket|window|application)\./.test(e.type)) soon(); },
  onStatus: (up) => { $("#offline").hidden = up; if (up) soon(); },
});
setInterval(refresh, 60_000);  // estimates drift with time even when nothing happens
