// The kiosk (自助取号机): one page, screens drawn from the controller's catalogue, live through HallEvents.
// The screen and its request id live in sessionStorage, so a reload shows the same screen and a second
// "取号" after a reload (or a double tap) returns the ticket already issued instead of a new one.
import { HallEvents, api, provisionedKey } from "/static/common/hall-events.js";

const KIOSK = document.body.dataset.kiosk;
// The kiosk's key, provisioned once by opening /kiosk/K1#key=… on the device: kept in its localStorage, taken
// out of the address bar, and sent with every request (X-Kiosk-Key). Without it the kiosk cannot issue.
const KEY_HEADERS = { "x-kiosk-key": provisionedKey(`kiosk.key.${KIOSK}`) };
// ?idle_seconds= and ?ticket_seconds= override the hall's settings on this screen (commissioning, tests).
const PARAMS = new URLSearchParams(location.search);
const seconds = (name, fallback) => Math.max(2, Number(PARAMS.get(name)) || fallback);
const IDLE_S = seconds("idle_seconds", Number(document.body.dataset.idle));
const TICKET_S = seconds("ticket_seconds", Number(document.body.dataset.ticketSeconds));
const PER_PAGE = () => (elder ? 4 : 8);
const $ = (sel) => document.querySelector(sel);
const screenEl = $("#screen");

let catalogue = null;  // {categories: [...]}
let current = null;  // {name, args, requestId, result}
let elder = sessionStorage.getItem("kiosk.elder") === "1";
let swipe = null;  // {id, name, age, elderly}
let swipeAppointment = null;
const usedSwipes = new Set();  // swipes this page has let go of: a status poll already on its way must not bring one back
let online = true;
let busy = false;
let spokenText = "";
let idleTimer = null;
let ticketTimer = null;
let refreshTimer = null;
let quiet = false;  // re-drawing a screen for fresh data does not read it aloud again
let clockOffset = 0;  // the hall's clock minus this browser's (the controller may run a shifted demo clock)

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function newRequestId() {
  // crypto.randomUUID needs a secure context; a kiosk on the hall LAN is plain http.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "k-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function services() {
  return catalogue ? catalogue.categories.flatMap((c) => c.services) : [];
}

function findService(id) {
  return services().find((s) => s.id === id);
}

function save() {
  sessionStorage.setItem("kiosk.screen", JSON.stringify(current));
}

function show(name, args = {}, extra = {}) {
  current = { name, args, ...extra };
  save();
  clearInterval(ticketTimer);
  screenEl.replaceChildren();
  screenEl.dataset.screen = name;
  screenEl.scrollTop = 0;
  SCREENS[name](args);
  $("#home-btn").hidden = name === "home";
}

function dialog(text) {
  $("#dialog-text").textContent = text;
  $("#dialog").hidden = false;
  speak(text);
}

$("#dialog-ok").addEventListener("click", () => { $("#dialog").hidden = true; });

async function call(path, options) {
  try {
    const data = await api(path, { ...options, headers: KEY_HEADERS });
    setOnline(true);
    return data;
  } catch (err) {
    if (err.status === undefined) {  // no answer at all: the controller is restarting or the network is down
      setOnline(false);
      throw new Error("网络连接中断，请稍后重试。");
    }
    throw err;
  }
}

function setOnline(ok) {
  if (ok && !online) loadCatalogue();
  online = ok;
  $("#offline").hidden = ok;
}

// ---------------------------------------------------------------- read-aloud (长者模式)

const audio = new Audio();

function speak(text) {
  spokenText = text;
  if (!elder || !text || quiet) return;
  audio.pause();
  audio.src = `/api/kiosk/speech?text=${encodeURIComponent(text.slice(0, 300))}`;
  audio.play().catch(() => {});  // no sound device or autoplay blocked: the screen still says it all
}

function setElder(on) {
  elder = on;
  sessionStorage.setItem("kiosk.elder", on ? "1" : "0");
  document.documentElement.classList.toggle("elder", on);
  $("#elder-btn").setAttribute("aria-pressed", on ? "true" : "false");
  $("#elder-btn").textContent = on ? "退出长者模式" : "长者模式";
  $("#speak-btn").hidden = !on;
  if (current) show(current.name, current.args, { requestId: current.requestId, result: current.result });
}

$("#elder-btn").addEventListener("click", () => setElder(!elder));
$("#speak-btn").addEventListener("click", () => speak(spokenText));
$("#home-btn").addEventListener("click", () => goHome());

function goHome() {
  $("#dialog").hidden = true;
  dropSwipe(true);  // the citizen is done: the next one starts without their card
  show("home");
}

// ---------------------------------------------------------------- screens

const SCREENS = {
  home({ page = 0 } = {}) {
    screenEl.append(el("h2", {}, "请选择办理的业务类别"));
    const tiles = el("div", { class: "tiles" });
    const all = catalogue?.categories ?? [];
    const perPage = elder ? 4 : all.length || 1;  // 长者模式: fewer, larger tiles per screen
    const pages = Math.max(1, Math.ceil(all.length / perPage));
    page = Math.min(page, pages - 1);
    const shown = all.slice(page * perPage, (page + 1) * perPage);
    for (const c of shown) {
      const open = c.services.filter((s) => !s.closed).length;
      tiles.append(el("button", { class: "tile", "data-category": c.id, onclick: () => show("theme", { id: c.id, page: 0 }) },
        el("span", { class: "name" }, c.name),
        el("span", { class: "meta" }, `${c.services.length} 个事项${open < c.services.length ? `，${open} 个可取号` : ""}`)));
    }
    tiles.append(
      el("button", { class: "tile action", id: "go-search", onclick: () => show("search", { q: "" }) },
        el("span", { class: "name" }, "搜索事项"), el("span", { class: "meta" }, "按名称或拼音首字母")),
      el("button", { class: "tile action", id: "go-checkin", onclick: () => show("checkin", { value: "" }) },
        el("span", { class: "name" }, "预约签到"), el("span", { class: "meta" }, "预约码 · 手机号 · 身份证")),
      el("button", { class: "tile action", id: "go-pickup", onclick: () => show("pickup", { value: "" }, { requestId: newRequestId() }) },
        el("span", { class: "name" }, "结果领取"), el("span", { class: "meta" }, "办件编号 · 身份证")));
    screenEl.append(tiles);
    if (pages > 1) {
      screenEl.append(el("div", { class: "pager" },
        el("button", { disabled: page === 0, id: "prev", onclick: () => show("home", { page: page - 1 }) }, "‹ 上一页"),
        el("span", { class: "count" }, `${page + 1} / ${pages}`),
        el("button", { disabled: page >= pages - 1, id: "next", onclick: () => show("home", { page: page + 1 }) }, "下一页 ›")));
    }
    speak("欢迎来到" + document.querySelector(".hall").textContent + "。请选择办理的业务类别：" +
      shown.map((c) => c.name).join("，") + "。也可以点击预约签到。");
  },

  theme({ id, page }) {
    const cat = catalogue.categories.find((c) => c.id === id);
    if (!cat) return goHome();
    screenEl.append(el("button", { class: "back", onclick: goHome }, "‹ 返回"), el("h2", {}, cat.name));
    serviceList(cat.services, page, (p) => show("theme", { id, page: p }));
    speak(`${cat.name}。请选择事项：` + pageOf(cat.services, page).map((s) => s.name).join("，"));
  },

  search({ q }) {
    screenEl.append(el("button", { class: "back", onclick: goHome }, "‹ 返回"), el("h2", {}, "搜索事项"));
    const input = el("input", { class: "search-input", id: "search", value: q, placeholder: "输入事项名称或拼音首字母，如 hjqy",
      autocomplete: "off", oninput: () => { current.args.q = input.value; save(); render(); } });
    const results = el("div", { id: "results" });
    const keys = el("div", { class: "keys letters" });
    for (const ch of "abcdefghijklmnopqrstuvwxyz") {
      keys.append(el("button", { "data-key": ch, onclick: () => { input.value += ch; input.dispatchEvent(new Event("input")); } }, ch.toUpperCase()));
    }
    keys.append(el("button", { onclick: () => { input.value = input.value.slice(0, -1); input.dispatchEvent(new Event("input")); } }, "删除"));
    screenEl.append(input, keys, results);
    // The controller matches (name, or pinyin initials from any word); answers to earlier keystrokes are dropped.
    let asked = 0;
    async function render() {
      const query = input.value.trim();
      const mine = ++asked;
      if (!query) { results.replaceChildren(); return; }
      let found;
      try {
        const hits = await call(`/api/kiosk/${KIOSK}/search?q=${encodeURIComponent(query.slice(0, 40))}`);
        found = hits.service_ids.map(findService).filter(Boolean);
      } catch (err) {
        if (mine === asked) results.replaceChildren(el("p", { class: "empty-result" }, err.message));
        return;
      }
      if (mine !== asked) return;
      results.replaceChildren();
      if (!found.length) results.append(el("p", { class: "empty-result" }, "没有找到相关事项，请换个关键词或咨询服务台。"));
      else serviceListInto(results, found);
    }
    render();
    speak("请输入事项名称或拼音首字母进行搜索。");
  },

  service({ id }) {
    const s = findService(id);
    if (!s) return goHome();
    screenEl.append(el("button", { class: "back", onclick: () => show("theme", { id: s.category_id, page: 0 }) }, "‹ 返回"),
      el("h2", { id: "service-name" }, s.name));
    const materials = el("ul", { class: "materials", id: "materials" },
      s.materials.length ? s.materials.map((m) => el("li", {},
        el("span", { class: `badge ${m.required ? "req" : "opt"}` }, m.required ? "必交" : "容缺"),
        el("span", {}, m.name, m.note ? el("span", { class: "note" }, m.note) : null)))
        : el("li", {}, "本事项无需提交材料。"));
    const matters = s.matters && s.matters.length
      ? el("p", { class: "desc", id: "bundle-matters" }, `“一件事”一次办：${s.matters.map((m) => m.name).join("、")}，一张号票、一个窗口办理，材料已合并去重。`)
      : null;
    const info = el("div", { class: "panel info", id: "service-info", tabindex: "0" },
      s.description ? el("p", { class: "desc" }, s.description) : null, matters,
      el("p", { class: "desc" }, `办理时限：${s.time_limit} · 取号时间：${s.issuing_hours}`),
      el("h3", {}, `一次性告知 · 所需材料${s.materials.length ? `（共 ${s.materials.length} 项）` : ""}`), materials,
      s.materials.some((m) => !m.required) ? el("p", { class: "desc" }, "“容缺”材料可先受理、后补交。") : null,
      publicity(s));
    const wait = el("div", { class: "panel wait", id: "wait" });
    const take = el("button", { class: "primary", id: "take", onclick: () => takeTicket(s.id) }, "取 号");
    const side = el("div", { class: "side" }, wait);
    if (s.closed) {
      side.append(el("div", { class: "closed-box", id: "closed" }, s.closed));
      take.disabled = true;
    }
    side.append(take);
    // a list longer than its panel says so: the citizen sees every material, not the first few
    const hint = el("p", { class: "scroll-hint", id: "scroll-hint", hidden: "" }, `材料共 ${s.materials.length} 项，请上下滑动材料框查看全部`);
    info.append(hint);  // kept in view at the panel's foot (sticky), 取号 does not move
    screenEl.append(el("div", { class: "service" }, info, side));
    requestAnimationFrame(() => { hint.hidden = info.scrollHeight <= info.clientHeight + 1; });
    renderWait(s);
    const req = s.materials.filter((m) => m.required).map((m) => m.name);
    speak(`${s.name}。需要带齐：${req.join("，") || "无"}。` + (s.closed ? s.closed : `前面有 ${s.ahead} 人等候，${s.wait_short}。` +
      (s.windows_open === 0 ? "当前暂无窗口办理此事项。" : "") + "请点击取号。"));
  },

  ticket({ title }) {
    const r = current.result;
    const t = r.ticket;
    const printed = r.print && r.print.ok;
    const left = el("div", {},
      el("div", { class: "title" }, title),
      el("div", { class: "number", id: "ticket-number" }, t.number),
      el("div", { class: "svc" }, t.service_name),
      r.priority_name ? el("div", {}, el("span", { class: "prio", id: "ticket-priority" }, r.priority_name)) : null,
      r.windows ? el("p", { id: "ticket-windows" }, `请留意 ${r.windows} 号窗口叫号`) : null,
      el("p", { id: "ticket-ahead" }, t.wait_text));
    const right = el("div", {},
      r.qr ? el("div", { class: "qr" }, el("img", { src: r.qr, alt: "排队进度二维码", id: "ticket-qr" }),
        el("p", {}, "用手机扫码，随时查看排队进度和叫号窗口。")) : null,
      el("div", { class: printed ? "print-ok" : "print-fail", id: "print-status" },
        printed ? "号票已打印，请从出票口取走。" : r.print.message),
      el("button", { class: "secondary", id: "done", onclick: goHome }, "完成"));
    screenEl.append(el("div", { class: "ticket" }, left, right));
    let left_s = TICKET_S;
    const done = right.querySelector("#done");
    const tick = () => { done.textContent = `完成（${left_s} 秒后返回首页）`; if (left_s-- <= 0) goHome(); };
    tick();
    ticketTimer = setInterval(tick, 1000);
    speak(`${title}。您的号码是 ${t.number}。${t.wait_text}。` + (printed ? "号票已打印，请取走。" : r.print.message));
  },

  pickup({ value }) {
    // 统一出件: a 出件 ticket for a ready 办件, by its 办件编号 (typed, or scanned by a reader that types) or ID card.
    screenEl.append(el("button", { class: "back", onclick: goHome }, "‹ 返回"), el("h2", {}, "办理结果领取"));
    const hint = "请输入办件编号（见受理通知书或短信）";
    const entry = el("div", { class: `entry ${value ? "" : "empty"}`, id: "pickup-entry" }, value || hint);
    const set = (v) => { current.args.value = v; save(); entry.textContent = v || hint; entry.classList.toggle("empty", !v); };
    const keys = el("div", { class: "keys letters" });
    for (const k of [..."1234567890", ..."QHYCX", "-", "删除"]) {
      keys.append(el("button", { "data-key": k, onclick: () => {
        const v = current.args.value;
        if (k === "删除") set(v.slice(0, -1)); else if (v.length < 40) set(v + k);
      } }, k));
    }
    const submit = el("button", { class: "primary", id: "pickup-submit", onclick: () => {
      const v = current.args.value.trim();
      if (!v) return dialog(hint + "，或在读卡区刷身份证。");
      pickup({ application_no: v });
    } }, "领 取");
    const about = el("div", { class: "panel" }, el("h3", {}, "领取说明"),
      el("p", { class: "desc" }, "办件办结后会短信通知您。凭办件编号或本人身份证取“出件”号，到统一出件窗口领取证照、批文。"),
      el("p", { class: "desc" }, "也可以选择免费邮寄（政务专递），请到统一出件窗口登记收件地址。"),
      el("p", { class: "desc" }, "已刷身份证的，点击上方“领取结果”即可。"));
    screenEl.append(el("div", { class: "checkin" }, el("div", {}, entry, keys, submit), about));
    speak("办理结果领取。请输入办件编号，或者刷身份证。");
  },

  checkin({ value }) {
    // The appointment code or the ID card: a phone number alone would let anyone check in (and so take the
    // ticket of) whoever they know the number of.
    screenEl.append(el("button", { class: "back", onclick: goHome }, "‹ 返回"), el("h2", {}, "预约签到"));
    const hint = "请输入 8 位预约码";
    const entry = el("div", { class: `entry ${value ? "" : "empty"}`, id: "entry" }, value || hint);
    const keys = el("div", { class: "keys" });
    const set = (v) => { current.args.value = v; save(); entry.textContent = v || hint; entry.classList.toggle("empty", !v); };
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "清空", "0", "删除"]) {
      keys.append(el("button", { "data-key": k, onclick: () => {
        const v = current.args.value;
        if (k === "清空") set("");
        else if (k === "删除") set(v.slice(0, -1));
        else if (v.length < 8) set(v + k);
      } }, k));
    }
    const submit = el("button", { class: "primary", id: "checkin-submit", onclick: () => {
      const v = current.args.value;
      if (!v) return dialog(hint + "。");
      checkIn({ code: v });
    } }, "签 到");
    const pad = el("div", {}, entry, keys, submit);
    const about = el("div", { class: "panel" }, el("h3", {}, "签到说明"),
      el("p", { class: "desc", id: "checkin-rule" }, document.body.dataset.checkInRule),
      el("p", { class: "desc" }, "也可以在读卡区刷身份证签到。"));
    screenEl.append(el("div", { class: "checkin" }, el("div", {}, pad), about));
    speak(`预约签到。${hint}，然后点击签到。也可以刷身份证签到。`);
  },
};

function pageOf(list, page) {
  return list.slice(page * PER_PAGE(), (page + 1) * PER_PAGE());
}

function serviceList(list, page, go) {
  const pages = Math.max(1, Math.ceil(list.length / PER_PAGE()));
  page = Math.min(page, pages - 1);
  const box = el("div", {});
  serviceListInto(box, pageOf(list, page));
  screenEl.append(box);
  if (pages > 1) {
    screenEl.append(el("div", { class: "pager" },
      el("button", { disabled: page === 0, onclick: () => go(page - 1), id: "prev" }, "‹ 上一页"),
      el("span", { class: "count" }, `${page + 1} / ${pages}`),
      el("button", { disabled: page >= pages - 1, onclick: () => go(page + 1), id: "next" }, "下一页 ›")));
  }
}

function serviceListInto(box, list) {
  const ul = el("div", { class: "list" });
  for (const s of list) {
    ul.append(el("button", { class: `item ${s.closed ? "closed" : ""}`, "data-service": s.id, onclick: () => show("service", { id: s.id }, { requestId: newRequestId() }) },
      el("span", { class: "name" }, s.name),
      el("span", { class: "meta" }, s.closed ? "暂停取号" : s.windows_open === 0 ? "暂无窗口办理" : `等候 ${s.ahead} 人`)));
  }
  box.append(ul);
}

function renderWait(s) {
  const wait = $("#wait");
  if (!wait) return;
  const none = s.wait_minutes === null;
  wait.replaceChildren(
    el("div", {}, el("div", { class: "num", id: "wait-ahead" }, String(s.ahead)), el("div", { class: "lbl" }, "前面等候（人）")),
    none
      // Warned before issuing: the ticket is valid, but nobody can say when a window will open for it.
      ? el("div", { class: "no-window", id: "no-window" }, el("div", { class: "num", id: "wait-time" }, "—"),
        el("div", { class: "lbl" }, "暂无窗口办理，取号后请等候窗口开放"))
      : el("div", {}, el("div", { class: "num", id: "wait-time" }, String(s.wait_minutes)),
        el("div", { class: "lbl" }, "预计等候（分钟）")));
  const take = $("#take");
  if (take && !s.closed && !busy) take.textContent = none ? "仍要取号" : "取 号";
}

// ---------------------------------------------------------------- actions

async function takeTicket(serviceId) {
  if (busy) return;  // a double tap: the first request is already on its way
  busy = true;
  const button = $("#take");
  if (button) { button.disabled = true; button.textContent = "正在取号……"; }
  try {
    // The controller issues with the card last read here, even one swiped after our last status poll;
    // swipe_id says which card this screen shows, so an expired one is asked for again, not ignored.
    const body = { service_id: serviceId, request_id: current.requestId };
    if (swipe) body.swipe_id = swipe.id;
    try {
      const result = await call(`/api/kiosk/${KIOSK}/tickets`, { method: "POST", body });
      show("ticket", { title: "取号成功" }, { result, requestId: current.requestId });
    } finally {
      dropSwipe(false);  // issued or refused, the controller has let the card go
    }
  } catch (err) {
    dialog(err.message);
    if (button) { button.disabled = false; button.textContent = "取 号"; }
  } finally {
    busy = false;
  }
}

async function pickup(body) {
  if (busy) return;
  busy = true;
  try {
    let result;
    try {
      if (!current.requestId) current.requestId = newRequestId();  // a swipe's 领取 from any screen
      result = await call(`/api/kiosk/${KIOSK}/pickup`, { method: "POST", body: { ...body, request_id: current.requestId } });
    } finally {
      if (body.swipe_id) dropSwipe(false);
    }
    const what = result.applications.map((a) => a.service_name).join("、");
    show("ticket", { title: `出件取号成功（${what}）` }, { result, requestId: current.requestId });
  } catch (err) {
    dialog(err.message);
  } finally {
    busy = false;
  }
}

async function checkIn(body) {
  if (busy) return;
  busy = true;
  try {
    let result;
    try {
      result = await call(`/api/kiosk/${KIOSK}/check-in`, { method: "POST", body });
    } finally {
      if (body.swipe_id) dropSwipe(false);
    }
    show("ticket", { title: result.appointment_priority ? "预约签到成功，将优先叫号" : "已签到（超过预约时段，按普通号排队）" }, { result });
  } catch (err) {
    dialog(err.message);
  } finally {
    busy = false;
  }
}

// ---------------------------------------------------------------- ID card swipe, printer, liveness

// Forgets the card shown; `tell` also asks the controller to forget it (going home, idle): a card read
// since then has another id and stays for its citizen.
function dropSwipe(tell) {
  if (!swipe) return;
  const id = swipe.id;
  usedSwipes.add(id);
  swipe = null; swipeAppointment = null; renderSwipe();
  if (tell) call(`/api/kiosk/${KIOSK}/swipe/clear`, { method: "POST", body: { swipe_id: id } }).catch(() => {});
}

function renderSwipe() {
  const box = $("#swipe");
  if (!swipe) { box.hidden = true; box.replaceChildren(); return; }
  box.hidden = false;
  const who = el("div", { class: "who", id: "swipe-who" },
    `已读取身份证：${swipe.name}（${swipe.age} 岁）`, swipe.elderly ? "，将为您优先安排办理" : "",
    swipeAppointment ? el("div", {}, `您今天预约了“${swipeAppointment.service_name}”（${swipeAppointment.slot}）`) : null);
  box.replaceChildren(...[who,
    swipeAppointment ? el("button", { class: "go", id: "swipe-checkin", onclick: () => checkIn({ swipe_id: swipe.id }) }, "预约签到") : null,
    el("button", { class: "go", id: "swipe-pickup", onclick: () => pickup({ swipe_id: swipe.id }) }, "领取结果"),
    el("button", { id: "swipe-clear", onclick: () => dropSwipe(true) }, "清除")].filter(Boolean));
}

async function pollStatus() {
  try {
    const st = await call(`/api/kiosk/${KIOSK}/status`);
    const before = swipe?.id;
    const fresh = st.swipe && !usedSwipes.has(st.swipe.id);
    swipe = fresh ? st.swipe : null;
    swipeAppointment = fresh ? st.appointment : null;
    if ((swipe?.id) !== before) {
      renderSwipe();
      if (swipe) {
        resetIdle();
        speak(`已读取身份证，${swipe.name}。` + (swipe.elderly ? "将为您优先安排办理。" : "") + (st.appointment ? "您今天有预约，可点击预约签到。" : "请选择办理的事项。"));
      }
    }
    const warn = $("#printer-warning");
    if (!st.printer.available) { warn.hidden = false; warn.textContent = "本机暂不提供打印：取号后请用手机拍下二维码或记下号码。"; }
    else if (st.printer.paper === "out") { warn.hidden = false; warn.textContent = "打印机缺纸：取号后请用手机拍下二维码或记下号码。"; }
    else warn.hidden = true;
  } catch {
    // shown by the offline banner; the next poll retries
  }
}

async function loadCatalogue() {
  try {
    catalogue = await call(`/api/kiosk/${KIOSK}/catalogue`);
    clockOffset = Date.parse(catalogue.at) - Date.now();
    tickClock();
  } catch {
    return;
  }
  if (!current) {
    const saved = JSON.parse(sessionStorage.getItem("kiosk.screen") || "null");
    if (saved && SCREENS[saved.name]) show(saved.name, saved.args, { requestId: saved.requestId, result: saved.result });
    else show("home");
  } else if (current.name === "service") {
    const s = findService(current.args.id);
    const shown = $("#closed")?.textContent ?? null;
    if (s && (s.closed ?? null) !== shown && !busy) rerender();  // it closed (cap, full queue, hours) or reopened
    else if (s) renderWait(s);
  } else if (current.name === "home" || current.name === "theme") {
    rerender();
  }
}

function rerender() {
  quiet = true;
  try {
    show(current.name, current.args, { requestId: current.requestId, result: current.result });
  } finally {
    quiet = false;
  }
}

// The rest of the "十公开" of a matter (受理条件, 收费, 依据, 监督电话), where the hall has published them.
function publicity(s) {
  const rows = [["受理条件", s.conditions], ["收费标准", s.fee], ["设定依据", s.basis], ["监督电话", s.phone]]
    .filter(([, v]) => v);
  if (!rows.length) return null;
  return el("dl", { class: "publicity", id: "publicity" }, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadCatalogue, 400);
}

function resetIdle() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (current && current.name !== "home") goHome();
    else dropSwipe(true);  // a card read on the home screen by someone who then walked away
  }, IDLE_S * 1000);
}

for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resetIdle, { capture: true });

function tickClock() {
  const now = new Date(Date.now() + clockOffset);
  $("#clock").textContent = now.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", timeZone: document.body.dataset.timezone });
}

// ---------------------------------------------------------------- start

document.documentElement.classList.toggle("elder", elder);
$("#elder-btn").setAttribute("aria-pressed", elder ? "true" : "false");
$("#elder-btn").textContent = elder ? "退出长者模式" : "长者模式";
$("#speak-btn").hidden = !elder;
tickClock();
setInterval(tickClock, 10_000);
resetIdle();
await loadCatalogue();
new HallEvents({
  since: catalogue ? catalogue.seq : null,
  onEvent: (e) => { if (/^(ticket|window|staff)\./.test(e.type)) scheduleRefresh(); },
  // A new configuration version reloads the catalogue (names, materials, hours), not the page: a citizen
  // in the middle of taking a number stays where they are.
  onConfig: scheduleRefresh,
  onStatus: (up) => { if (up) scheduleRefresh(); },
});
pollStatus();
setInterval(pollStatus, 1000);
