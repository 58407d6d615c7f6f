// Counter soft keypad (呼叫器): staff sign in with 工号 + PIN, then call, recall, skip, transfer, pause and
// finish from the counter PC. The token lives in sessionStorage: it ends with the browser tab.
import { HallEvents, api } from "/static/common/hall-events.js";
import { el, hhmm } from "/static/board/hall-state.js";
import { fieldError } from "/static/common/validation.js";  // the forms' checks in Chinese

const $ = (id) => document.getElementById(id);
const windowId = $("app").dataset.window;
const TOKEN_KEY = `hall.counter.${windowId}`;
const KEYS = { F1: "call-next", F2: "recall", F3: "skip", F4: "finish", F5: "pause", F6: "transfer", F7: "start" };
const STATE_TEXT = { open: "空闲", serving: "办理中", paused: "暂停服务", closed: "窗口关闭", signed_out: "未签到" };
const CHANNELS = { kiosk: "自助取号", appointment: "预约", staff: "窗口代取", mobile: "手机取号" };
const PAUSE_REASONS = ["临时离开", "午间休息", "业务培训", "设备故障"];

let token = sessionStorage.getItem(TOKEN_KEY);
let catalogue = null; // GET /api/services
let hall = null; // GET /api/board (the hall clock)
let view = null; // GET /api/windows/{id}
let clockOffset = 0;
let checkedFor = null; // the ticket whose material checklist is on screen
let dialogKeys = null; // digit key -> choice while a dialog is open
let bundles = {}; // 一件事: bundle service id -> {matters, materials (merged)} (GET /api/applications/catalogue)
let handover = new Set(); // 统一出件: the 出件 and 政务专递 services (their tickets hand over or mail a 办件)
let handoverFor = null; // the ticket whose 办件 list is on screen
// Outcomes that owe the citizen a written notice: the finish asks for the 办件's details. Others finish at
// once, unless a 办件 is attached (then its 容缺 materials and date may be given).
const DETAILED = new Set(["supplement", "returned"]);
const ACCEPTED = new Set(["promised", "joint", "escalated"]);

function toast(message, kind = "ok") {
  const t = $("toast");
  t.textContent = message;
  t.dataset.kind = kind;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, kind === "error" ? 6000 : 2500);
}

function minutesSince(iso) { return Math.max(0, Math.round((Date.now() + clockOffset - Date.parse(iso)) / 60000)); }

function showSignIn(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("desk").hidden = true;
  $("sign-out").hidden = true;
  $("staff-line").textContent = "";
  $("sign-in").hidden = false;
  if (message) toast(message, "error");
  $("staff-id").focus();
}

async function refresh() {
  view = await api(`/api/windows/${windowId}`);
  if (token && !view.staff) { showSignIn("本窗口已签离，请重新签到。"); return; }
  if (token) render();
}

let pending = null;
function scheduleRefresh() {
  clearTimeout(pending);
  pending = setTimeout(() => refresh().catch((e) => toast(e.message, "error")), 80);
}

function render() {
  $("sign-in").hidden = true;
  $("desk").hidden = false;
  $("sign-out").hidden = false;
  const s = view.staff;
  $("staff-line").replaceChildren("当前签到：", s.name, el("em", { text: s.id }), s.unit, s.standin ? "（替岗）" : "");
  const badge = $("window-state");
  badge.textContent = STATE_TEXT[view.state] || view.state;
  badge.dataset.state = view.state;
  renderTicket(view.ticket);
  renderWaiting(view.waiting || []);
  const paused = view.state === "paused";
  $("pause-key").dataset.paused = String(paused);
  $("pause-key").querySelector("b").textContent = paused ? "恢复" : "暂停";
  for (const b of document.querySelectorAll(".key")) {
    const a = b.dataset.action;
    b.disabled = a === "call-next" ? Boolean(view.ticket) || paused
      : a === "pause" ? Boolean(view.ticket)
      : a === "start" ? !view.ticket || view.ticket.status !== "called"
      : !view.ticket;
  }
}

function renderTicket(t) {
  $("ticket").classList.toggle("empty", !t);
  $("t-number").textContent = t ? t.number : "——";
  $("t-status").textContent = !t ? (view.state === "paused" ? "暂停服务中，按“恢复”继续叫号" : "暂无号票，请按“叫号”")
    : t.status === "called" ? `已呼叫，等候群众到窗口${t.recalls ? `（已重呼 ${t.recalls} 次）` : ""}` : "办理中";
  const facts = [];
  if (t) {
    const priority = t.priority && catalogue.priorities.find((p) => p.id === t.priority);
    facts.push(["事项", t.service_name], ["分类", t.category_name],
      ["取号", `${hhmm(t.issued_at)} · ${CHANNELS[t.channel] || t.channel}`],
      ["已等候", `${Math.round((Date.parse(t.called_at || t.issued_at) - Date.parse(t.issued_at)) / 60000)} 分钟`]);
    if (priority) facts.push(["优先", priority.name]);
    if (t.transfers) facts.push(["转移", `${t.transfers} 次（首问负责，保留原排队时间）`]);
    const bundle = bundles[t.service_id];
    if (bundle) facts.push(["一件事", bundle.matters.map((m) => m.name).join("、")]);
  }
  renderAttach(t);
  $("t-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));

  if (checkedFor === (t && t.id)) return; // keep the staff's ticks while the same ticket stays
  checkedFor = t ? t.id : null;
  const service = t && catalogue.services.find((s) => s.id === t.service_id);
  const materials = t && bundles[t.service_id] ? bundles[t.service_id].materials : service ? service.materials : [];
  $("materials").replaceChildren(...(materials.length ? materials.map((m) => el("li", {},
    el("label", {}, el("input", { type: "checkbox" }),
      el("span", {}, m.name, m.note ? el("span", { class: "note", text: m.note }) : null),
      el("span", { class: m.required ? "req" : "opt", text: m.required ? "必交" : "容缺" }))))
    : [el("li", { class: "empty", text: t ? "该事项无需提交材料" : "叫号后显示该事项的材料清单" })]));
}

function renderWaiting(list) {
  $("waiting-count").textContent = list.length;
  const names = Object.fromEntries(catalogue.priorities.map((p) => [p.id, p.name]));
  $("waiting").replaceChildren(...(list.length ? list.map((t) => el("li", { "data-ticket": t.number },
    el("span", { class: "num", text: t.number }),
    el("span", { class: "svc" }, t.service_name, t.priority ? el("span", { class: "prio", text: names[t.priority] || "优先" }) : null),
    el("span", { class: "wait", text: `${minutesSince(t.issued_at)} 分钟` })))
    : [el("li", { class: "empty", text: "暂无等候" })]));
}

async function act(action, body) {
  try {
    const result = await api(`/api/windows/${windowId}/${action}`, { method: "POST", body, token });
    const t = result && result.ticket;
    const done = {
      "call-next": t ? `已呼叫 ${t.number}` : "当前没有等候本窗口的号票",
      recall: t && `已重呼 ${t.number}`, skip: t && `${t.number} 已过号`, start: t && `${t.number} 开始办理`,
      finish: t && `${t.number} 已办结${t.application_no ? `（办件 ${t.application_no}）` : ""}`, transfer: t && `${t.number} 已转移`, pause: "已暂停服务", resume: "已恢复服务",
    }[action];
    // Render the new state before confirming, so a key pressed on seeing the toast acts on the current ticket.
    await refresh();
    if (token) toast(done); // not over the sign-in prompt, should the refresh find the window signed out
  } catch (err) {
    if (err.status === 401) showSignIn(err.message); else toast(err.message, "error");
  }
}

function openDialog(title, sections) {
  dialogKeys = {};
  let n = 0;
  const body = sections.map(([heading, choices]) => [
    heading ? el("h3", { text: heading }) : null,
    el("div", { class: "choices" }, ...choices.map(([label, run, why]) => {
      if (why) { // shown, so staff see where the ticket cannot go and why, but not choosable
        return el("button", { type: "button", disabled: "", class: "unavailable" }, label, el("small", { text: why }));
      }
      n += 1;
      const key = n <= 9 ? String(n) : null;
      const button = el("button", { type: "button" }, key ? el("kbd", { text: key }) : null, label);
      const choose = () => { closeDialog(); run(); };
      button.addEventListener("click", choose);
      if (key) dialogKeys[key] = choose;
      return button;
    })),
  ]).flat();
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...body.filter(Boolean));
  $("dialog").hidden = false;
  const first = $("dialog-body").querySelector("button");
  if (first) first.focus();
}

function closeDialog() { $("dialog").hidden = true; dialogKeys = null; }

function press(action) {
  const key = document.querySelector(`.key[data-action="${action}"]`);
  if (!key || key.disabled || $("desk").hidden) return;
  if (action === "finish") {
    if (bundles[view.ticket.service_id]) { bundleForm(view.ticket); return; }
    openDialog(`办结 ${view.ticket.number} · 选择办件类型`,
      [[null, Object.entries(catalogue.outcomes).map(([code, name]) => [name, () => finishAs(code)])]]);
  } else if (action === "pause") {
    if (view.state === "paused") act("resume");
    else openDialog("暂停服务 · 选择原因", [[null, PAUSE_REASONS.map((r) => [r, () => act("pause", { reason: r })])]]);
  } else if (action === "transfer") {
    // the controller says what can take the ticket now (transfer_targets), and why the others cannot
    const targets = view.transfer_targets;
    const categories = targets.categories.map((c) => [c.name, () => act("transfer", { category_id: c.id }), c.why]);
    const windows = targets.windows.map((w) => [w.name, () => act("transfer", { window_id: w.id }), w.why]);
    openDialog(`转移 ${view.ticket.number}（保留原排队时间）`, [["转至主题 / 分类", categories], ["转至指定窗口", windows]]);
  } else {
    act(action);
  }
}

// ---------------------------------------------------------------- 办件 (features/applications)

function renderAttach(t) {
  const form = $("attach-form");
  const handing = Boolean(t && handover.has(t.service_id));
  // a 一件事 ticket names each matter's 办件 at the finish; a 出件 ticket hands over (or mails) ready ones
  form.hidden = !t || Boolean(bundles[t.service_id]) || handing;
  $("attached").textContent = t && t.application_no ? `已关联 ${t.application_no}` : "";
  $("handover").hidden = !handing;
  if (!handing) { handoverFor = null; return; }
  const key = `${t.id}:${t.application_no || ""}`;
  if (handoverFor !== key) { handoverFor = key; loadHandover().catch((e) => toast(e.message, "error")); }
}

async function loadHandover() {
  const { applications } = await api(`/api/windows/${windowId}/applications`, { token });
  $("handover-list").replaceChildren(...(applications.length ? applications.map((a) => el("li", { "data-no": a.application_no },
    el("span", { class: "no", text: a.application_no }), el("span", { text: a.service_name }),
    el("span", { class: "state", "data-status": a.status,
      text: a.status === "mailed" && a.delivery ? `已寄递 · ${a.delivery.waybill}` : a.status_label }),
    a.status === "ready" ? button("政务专递", () => mailForm(a.application_no)) : null))
    : [el("li", { class: "empty", text: "本号票未关联办件：寄递登记请按下方按钮扫描办件编号" })]));
}

function button(text, run) {
  const b = el("button", { type: "button", class: "ghost", text });
  b.addEventListener("click", run);
  return b;
}

function mailForm(no) {
  // 政务专递 instead of a pickup: checked by the controller, each problem shown beside its field.
  const t = view.ticket;
  const input = (name, attrs) => el("input", { type: "text", name, ...attrs });
  const form = el("form", { class: "finish-form", id: "mail-form", novalidate: "" },
    field("办件编号", Object.assign(input("application_no", { maxlength: "40", placeholder: "输入或扫码", inputmode: "latin" }), { value: no || "" })),
    field("收件人", input("recipient", { maxlength: "30", autocomplete: "off" })),
    field("联系电话", input("phone", { maxlength: "20", inputmode: "tel", autocomplete: "off" })),
    field("收件地址", input("address", { maxlength: "200", autocomplete: "off" })),
    field("寄递单位", Object.assign(input("carrier", { maxlength: "30" }), { value: "中国邮政 EMS" })),
    field("运单号", input("waybill", { maxlength: "40", placeholder: "扫描面单条码", inputmode: "latin" })),
    el("button", { type: "submit", class: "primary", text: "登记寄递（代替领取）" }));
  form.addEventListener("keydown", (e) => {
    // a scanner ends with Enter: go to the next field instead of sending a half-filled form
    if (e.key === "Enter" && e.target.tagName === "INPUT" && e.target.name !== "waybill") {
      e.preventDefault();
      const inputs = [...form.querySelectorAll("input")];
      inputs[inputs.indexOf(e.target) + 1]?.focus();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const body = { recipient: data.recipient, phone: data.phone, address: data.address, waybill: data.waybill,
      carrier: data.carrier };
    if (String(data.application_no || "").trim()) body.application_no = String(data.application_no).trim();
    try {
      const app = await api(`/api/windows/${windowId}/mail`, { method: "POST", body, token });
      closeDialog();
      handoverFor = null;
      await refresh();
      toast(`已登记政务专递：办件 ${app.application_no}，运单号 ${app.delivery.waybill}`);
    } catch (err) {
      if (err.status === 401) { closeDialog(); showSignIn(err.message); return; }
      const target = err.field && form.elements[err.field];
      if (target) fieldError(target, err.message); else toast(err.message, "error");
    }
  });
  showForm(`政务专递 · ${t.number}`, form);
  if (no) form.elements.recipient.focus();
}

async function attach(e) {
  e.preventDefault();
  const no = $("application-no").value.trim();
  if (!no) return;
  try {
    await api(`/api/windows/${windowId}/application`, { method: "POST", body: { application_no: no }, token });
    $("application-no").value = "";
    await refresh();
    toast(`已关联办件 ${no}`);
  } catch (err) {
    if (err.status === 401) showSignIn(err.message); else toast(err.message, "error");
  }
}

function unticked() {
  // The checklist on screen: what the staff did not tick is what is missing.
  return [...document.querySelectorAll("#materials li label")]
    .filter((l) => !l.querySelector("input").checked).map((l) => l.querySelector("span").firstChild.textContent);
}

function field(label, input) { return el("label", {}, label, input); }

function materialChecks(names, checked) {
  return names.map((n) => el("label", { class: "check" },
    Object.assign(el("input", { type: "checkbox", name: "missing", value: n }), { checked: checked.includes(n) }), n));
}

function showForm(title, form) {
  dialogKeys = {};
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(form);
  $("dialog").hidden = false;
  const first = form.querySelector("input, textarea, select");
  if (first) first.focus();
}

function finishAs(code) {
  const t = view.ticket;
  // a 出件 ticket's finish hands its ready 办件 over: it records no matter of its own
  if (handover.has(t.service_id) || (!DETAILED.has(code) && !t.application_no)) { act("finish", { outcome: code }); return; }
  const service = catalogue.services.find((s) => s.id === t.service_id);
  const names = service ? service.materials.map((m) => m.name) : [];
  const form = el("form", { class: "finish-form", id: "finish-form" });
  const no = el("input", { type: "text", name: "application_no", maxlength: "40", placeholder: "可扫码；留空由系统编号" });
  no.value = t.application_no || "";
  form.append(field("办件编号", no));
  const other = el("input", { type: "text", name: "other", maxlength: "200", placeholder: "清单外的材料，多项用“、”分隔" });
  if (code === "supplement") {
    form.append(el("fieldset", {}, el("legend", { text: "需补正的材料（一次性告知）" }),
      ...materialChecks(names, unticked()), field("其他材料", other)));
  } else if (code === "returned") {
    form.append(field("不予受理理由（否决报备）", el("textarea", { name: "reason", rows: "3", maxlength: "500", required: "" })));
  } else if (ACCEPTED.has(code)) {
    const optional = service ? service.materials.filter((m) => !m.required).map((m) => m.name) : [];
    form.append(el("fieldset", {}, el("legend", { text: "容缺受理：后补的材料（可不选）" }),
      ...materialChecks(optional.length ? optional : names, []), field("其他材料", other),
      field("承诺补交日期（留空按默认工作日）", el("input", { type: "date", name: "commitment_due" }))));
  }
  form.append(el("button", { type: "submit", class: "primary", text: `确认办结（${catalogue.outcomes[code]}）` }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const missing = [...data.getAll("missing"), ...String(data.get("other") || "").split(/[、,，;；]/)]
      .map((x) => x.trim()).filter(Boolean);
    const body = { outcome: code };
    if (String(data.get("application_no") || "").trim()) body.application_no = String(data.get("application_no")).trim();
    if (missing.length) body.missing_materials = missing;
    if (data.get("reason")) body.reason = String(data.get("reason"));
    if (data.get("commitment_due")) body.commitment_due = String(data.get("commitment_due"));
    closeDialog();
    act("finish", body);
  });
  showForm(`办结 ${t.number} · ${catalogue.outcomes[code]}`, form);
}

function bundleForm(t) {
  // 一件事: each matter finished with its own outcome and 办件.
  const outcomes = Object.entries(catalogue.outcomes).filter(([c]) => c !== "consult");
  const form = el("form", { class: "finish-form", id: "finish-form" });
  for (const m of bundles[t.service_id].matters) {
    const select = el("select", { name: `outcome:${m.id}`, "aria-label": `${m.name} 办结类型` },
      ...outcomes.map(([c, n]) => el("option", { value: c, text: n })));
    form.append(el("fieldset", { class: "matter", "data-matter": m.id }, el("legend", { text: m.name }),
      field("办件编号", el("input", { type: "text", name: `no:${m.id}`, maxlength: "40", placeholder: "留空由系统编号" })),
      field("办结类型", select),
      el("label", { class: "wide" }, "缺少的材料 / 不予受理理由",
        el("input", { type: "text", name: `note:${m.id}`, maxlength: "200", placeholder: "补办件填材料（“、”分隔），退回件填理由" }))));
  }
  form.append(el("button", { type: "submit", class: "primary", text: "确认办结全部事项" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const matters = bundles[t.service_id].matters.map((m) => {
      const outcome = String(data.get(`outcome:${m.id}`));
      const note = String(data.get(`note:${m.id}`) || "").trim();
      const matter = { service_id: m.id, outcome };
      const no = String(data.get(`no:${m.id}`) || "").trim();
      if (no) matter.application_no = no;
      if (note && outcome === "returned") matter.reason = note;
      else if (note) matter.missing_materials = note.split(/[、,，;；]/).map((x) => x.trim()).filter(Boolean);
      return matter;
    });
    closeDialog();
    act("finish", { outcome: "promised", matters });
  });
  showForm(`办结 ${t.number} · 一件事分事项办结`, form);
}

function bind() {
  $("attach-form").addEventListener("submit", attach);
  $("mail-other").addEventListener("click", () => mailForm(""));
  for (const b of document.querySelectorAll(".key")) b.addEventListener("click", () => press(b.dataset.action));
  document.addEventListener("keydown", (e) => {
    if (!$("dialog").hidden) {
      if (e.key === "Escape") { e.preventDefault(); closeDialog(); } else if (dialogKeys[e.key]) { e.preventDefault(); dialogKeys[e.key](); }
      return;
    }
    if (KEYS[e.key]) { e.preventDefault(); press(KEYS[e.key]); }
  });
  $("dialog-cancel").addEventListener("click", closeDialog);
  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api(`/api/windows/${windowId}/sign-in`, { method: "POST",
        body: { staff_id: $("staff-id").value.trim(), pin: $("pin").value } });
      token = r.token;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("pin").value = "";
      toast(`${r.window.staff.name}，签到成功`);
      await refresh();
    } catch (err) { toast(err.message, "error"); }
  });
  $("sign-out").addEventListener("click", async () => {
    try {
      await api(`/api/windows/${windowId}/sign-out`, { method: "POST", token });
      showSignIn();
      toast("已签离");
    } catch (err) {
      if (err.status === 401) showSignIn(err.message); else toast(err.message, "error");
    }
  });
}

async function main() {
  let extra;
  [catalogue, hall, extra] = await Promise.all([api("/api/services"), api("/api/board"),
    api("/api/applications/catalogue").catch(() => ({ bundles: {} }))]);
  bundles = extra.bundles;
  handover = new Set(extra.handover_services || []);
  clockOffset = Date.parse(hall.at) - Date.now();
  bind();
  if (token) await refresh(); else showSignIn();
  window.hallEvents = new HallEvents({
    since: hall.seq,
    onEvent: (event) => {
      if (token) scheduleRefresh();
    },
    onStatus: (online) => {
      $("link").dataset.online = String(online);
      $("link").querySelector("span").textContent = online ? "实时" : "重新连接中";
      if (online && token) scheduleRefresh();
    },
  });
}

main().catch((err) => toast(err.message, "error"));
