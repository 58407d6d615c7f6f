// Tablet evaluation pad: follows its window over the event stream; a finished service opens the rating form
// for `timeout_s`, as on the serial pad; the rating is acknowledged only once the controller stored it.
import { HallEvents, api, provisionedKey } from "/static/common/hall-events.js";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const windowId = pad.dataset.window;
const THANKS_MS = 6000;
// The tablet's key, provisioned once by opening /pad/4#key=… on it (hall-controller pad-key), sent with every
// request (X-Pad-Key). Without it the controller refuses and the pad says so.
const KEY_HEADERS = { "x-pad-key": provisionedKey(`pad.key.${windowId}`) };

let state = null;
let invited = null;     // the ticket number the form is open for
let done = null;        // the last ticket this pad is through with: rated, refused or timed out
let deadline = 0;       // performance.now() when the invitation runs out
let level = null;
let thanksUntil = 0;
let refetchTimer = null;

function show(screen) {
  pad.dataset.screen = screen;
  $("idle").hidden = screen !== "idle";
  $("rate").hidden = screen !== "rate";
  $("thanks").hidden = screen !== "thanks";
  $("refused").hidden = screen !== "refused";
}

function refuse(message) {
  state = null;
  invited = null;
  $("refused-text").textContent = message;
  show("refused");
}

function renderStaff(staff) {
  $("staff").classList.toggle("vacant", !staff);
  if (staff) {
    if ($("staff-photo").getAttribute("src") !== staff.photo_url) $("staff-photo").src = staff.photo_url;
    $("staff-name").textContent = staff.name;
    $("staff-id").textContent = staff.id;
    $("staff-unit").textContent = staff.unit || "—";
  } else {
    $("staff-photo").removeAttribute("src");
    $("staff-name").textContent = "暂无工作人员";
    $("staff-id").textContent = "—";
    $("staff-unit").textContent = "—";
  }
}

function renderIdle() {
  const s = state.serving;
  const closed = state.window.state === "signed_out" || state.window.state === "closed";
  $("idle-label").textContent = s ? (s.status === "called" ? "正在呼叫" : "正在办理") : closed ? "暂未开放" : "欢迎光临";
  $("serving-number").textContent = s ? s.number : "——";
  $("serving-service").textContent = s ? s.service_name : closed ? "请到其他窗口办理" : "业务办结后，请对本次服务作出评价";
}

function buildChoices() {
  const levels = $("levels");
  levels.replaceChildren(...state.levels.map(({ level: n, label }) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `level level-${n}`;
    b.dataset.level = n;
    b.setAttribute("aria-pressed", "false");
    b.textContent = label;
    b.addEventListener("click", () => choose(n));
    return b;
  }));
  $("reasons").replaceChildren(...state.reasons.map(({ code, label }) => {
    const l = document.createElement("label");
    l.className = "reason";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "reason";
    box.value = code;
    l.append(box, document.createTextNode(label));
    return l;
  }));
  $("comment").maxLength = state.comment_max;
}

function openForm(invitation) {
  invited = invitation.ticket;
  deadline = performance.now() + invitation.seconds_left * 1000;
  level = null;
  buildChoices();
  // A 办件's rating names the 办件 and its matter (the business system's 办件 data), else the ticket served.
  $("rate-ticket").textContent = invitation.application_no ? `办件 ${invitation.application_no}` : invitation.ticket;
  $("rate-service").textContent = invitation.application_no ? invitation.matter : invitation.service_name;
  $("comment").value = "";
  $("reasons-box").hidden = true;
  $("error").textContent = "";
  $("submit").disabled = true;
  countComment();
  show("rate");
  tick();  // the countdown from the first moment, not a second later
}

function choose(n) {
  level = n;
  for (const b of $("levels").children) b.setAttribute("aria-pressed", String(Number(b.dataset.level) === n));
  const bad = n >= 4;
  $("reasons-box").hidden = !bad;
  if (!bad) for (const box of $("reasons").querySelectorAll("input")) box.checked = false;
  $("submit").disabled = false;
  $("error").textContent = "";
}

function countComment() {
  $("comment-count").textContent = `${$("comment").value.length}/${state.comment_max}`;
}

function tick() {
  if (pad.dataset.screen !== "rate") return;
  const left = Math.ceil((deadline - performance.now()) / 1000);
  if (left <= 0) {
    finish();
    render();
    return;
  }
  $("countdown").textContent = `剩余 ${left} 秒`;
}

function finish() {
  done = invited;
  invited = null;
}

function render() {
  if (!state) return;
  renderStaff(state.staff);
  renderIdle();
  if (performance.now() < thanksUntil) return show("thanks");
  const inv = state.invitation;
  if (inv && inv.seconds_left > 0 && inv.ticket !== done) {
    if (invited !== inv.ticket || pad.dataset.screen !== "rate") openForm(inv);
    return;
  }
  invited = null;
  show("idle");
}

async function refresh() {
  try {
    state = await api(`/api/pad/${encodeURIComponent(windowId)}`, { headers: KEY_HEADERS });
    window.padState = state;
    render();
  } catch (err) {
    if (err.status === 401) return refuse(err.message);  // not this window's tablet: nothing to show
    refetchSoon(2000);
  }
}

function refetchSoon(ms = 100) {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(refresh, ms);
}

$("comment").addEventListener("input", countComment);
$("rate").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (level === null) { $("error").textContent = "请先选择满意程度。"; return; }
  const reasons = [...$("reasons").querySelectorAll("input:checked")].map((b) => b.value);
  $("submit").disabled = true;
  try {
    await api(`/api/pad/${encodeURIComponent(windowId)}/rating`, {
      method: "POST", headers: KEY_HEADERS,
      body: { ticket: invited, level, reasons, comment: $("comment").value.trim() || null } });
    finish();
    thanksUntil = performance.now() + THANKS_MS;
    $("thanks-text").textContent = level >= 4 ? "我们将核实并改进，感谢您的监督" : "您的意见将帮助我们改进服务";
    show("thanks");
    setTimeout(() => { thanksUntil = 0; refresh(); }, THANKS_MS);
  } catch (err) {
    if (err.status === 401) return refuse(err.message);
    $("error").textContent = err.message;
    $("submit").disabled = false;
    if (["not_invited", "invitation_expired", "already_rated", "not_served"].includes(err.code)) {
      finish();
      setTimeout(refresh, 3000);
    }
  }
});

setInterval(tick, 1000);
window.hallEvents = new HallEvents({
  onEvent: (event) => {
    if (event.data && event.data.window_id === windowId) refetchSoon();
  },
  onStatus: (online) => {
    $("link").dataset.online = String(online);
    $("link").querySelector("span").textContent = online ? "实时" : "重新连接中";
    if (online) refetchSoon(0);  // subscribed first, then read: nothing falls between
  },
});
