// 后台管理: forms over the configuration document (GET /api/admin/config). Every edit changes a working copy;
// "预览变更" shows the diff the controller computes (POST /api/admin/config/preview) and "确认应用" makes it a
// new version (PUT /api/admin/config with base_version). A 422 names the bad key: the form shows it beside
// the field. Sections the forms do not know are edited as JSON under 全部配置, so nothing is ever lost.
import { HallEvents } from "/static/common/hall-events.js";
import { call, el, fmt, onError, requireManager, token } from "/static/common/manage.js";

const $ = (id) => document.getElementById(id);
const WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"];
const SERVICE_TEXTS = [["code", "事项编码"], ["basis", "设定依据"], ["conditions", "受理条件"], ["fee", "收费标准"],
  ["phone", "监督电话"]];
const KNOWN = ["hall", "queue", "categories", "services", "windows", "staff", "managers"];

let base = null;      // the version the working copy was read at
let original = "";    // its JSON, to tell whether anything changed
let doc = null;       // the working copy
let tab = location.hash.slice(1) || "hall";
let selected = {};    // tab -> selected entry key
let errorPath = null; // the key the last 422 named

const clone = (x) => JSON.parse(JSON.stringify(x));
const windowId = (w) => String(w.id ?? w.number);
const list = (key) => (doc[key] ??= []);

// ---------------------------------------------------------------- bound inputs

// An input bound to obj[key]. kind: text | int | number | bool | time | select; optional: "" removes the key.
function field(label, obj, key, path, { kind = "text", optional = false, options = null, wide = false, hint = "", placeholder = "" } = {}) {
  let input;
  const value = obj[key];
  if (kind === "bool") {
    input = el("input", { type: "checkbox" });
    input.checked = Boolean(value);
  } else if (options) {
    input = el("select");
    for (const [v, text] of options) input.append(el("option", { value: v, text }));
    input.value = value ?? "";
  } else if (kind === "textarea") {
    input = el("textarea");
    input.value = value ?? "";
  } else {
    input = el("input", { type: kind === "int" || kind === "number" ? "number" : "text" });
    if (kind === "number") input.step = "any";
    if (placeholder) input.placeholder = placeholder;
    input.value = value ?? "";
  }
  input.dataset.path = path;
  input.addEventListener(kind === "bool" || options ? "change" : "input", () => {
    let v = kind === "bool" ? input.checked : input.value;
    if ((kind === "int" || kind === "number") && v !== "") v = Number(v);
    if (optional && (v === "" || v === false)) delete obj[key]; else obj[key] = v;
    changed();
  });
  const box = el("label", { class: kind === "bool" ? "check" : wide ? "wide" : "" });
  if (kind === "bool") box.append(input, label); else box.append(label, input);
  if (hint) box.append(el("span", { class: "muted", text: hint }));
  box.append(el("span", { class: "field-error", "data-error-for": path }));
  return box;
}

// A list of ids (windows, services) as check boxes bound to obj[key].
function picks(label, obj, key, path, choices, { optional = false } = {}) {
  const box = el("fieldset", { class: "wide", "data-path": path }, el("legend", { text: label }));
  const chips = el("div", { class: "chips" });
  const chosen = new Set((obj[key] ?? []).map(String));
  for (const [id, text] of choices) {
    const input = el("input", { type: "checkbox", value: id });
    input.checked = chosen.has(id);
    input.addEventListener("change", () => {
      const now = [...chips.querySelectorAll("input:checked")].map((i) => i.value);
      if (optional && !now.length) delete obj[key]; else obj[key] = now;
      changed();
    });
    chips.append(el("label", { class: "check" }, input, text));
  }
  box.append(chips, el("span", { class: "field-error", "data-error-for": path }));
  return box;
}

// Periods ["08:30", "12:00"] as "08:30-12:00, 14:00-17:30".
function periods(label, obj, key, path, { single = false, optional = true } = {}) {
  const show = (v) => (single ? (v ? [v] : []) : (v ?? [])).map((p) => p.join("-")).join(", ");
  const input = el("input", { type: "text", placeholder: single ? "12:00-14:00" : "08:30-12:00, 14:00-17:30" });
  input.value = show(obj[key]);
  input.dataset.path = path;
  input.addEventListener("input", () => {
    const parsed = input.value.split(/[,，;；]/).map((s) => s.trim()).filter(Boolean).map((s) => s.split(/\s*[-–~至]\s*/));
    if (!parsed.length && optional) delete obj[key]; else obj[key] = single ? parsed[0] : parsed;
    changed();
  });
  return el("label", {}, label, input, el("span", { class: "field-error", "data-error-for": path }));
}

// Dates, one per line or separated by commas.
function dates(label, obj, key, path) {
  const input = el("textarea", { rows: "3", placeholder: "2026-10-01" });
  input.value = (obj[key] ?? []).join("\n");
  input.dataset.path = path;
  input.addEventListener("input", () => {
    const v = input.value.split(/[\s,，]+/).filter(Boolean);
    if (v.length) obj[key] = v; else delete obj[key];
    changed();
  });
  return el("label", {}, label, input, el("span", { class: "field-error", "data-error-for": path }));
}

function fields(...children) { return el("div", { class: "fields" }, ...children); }

function changed() {
  const dirty = JSON.stringify(doc) !== original;
  $("dirty").textContent = dirty ? "有未应用的修改" : "未修改";
  $("dirty").className = dirty ? "bad" : "muted";
  $("review").classList.add("hidden");
}

// An entry list with an editor beside it (services, windows, staff).
function master(items, keyOf, labelOf, render, add) {
  const key = selected[tab] && items.some((i) => keyOf(i) === selected[tab]) ? selected[tab] : (items[0] && keyOf(items[0]));
  const ul = el("ul", { class: "list" });
  for (const item of items) {
    const b = el("button", { type: "button", "aria-current": String(keyOf(item) === key) }, ...labelOf(item));
    b.addEventListener("click", () => { selected[tab] = keyOf(item); draw(); });
    ul.append(el("li", {}, b));
  }
  const left = el("div", {}, ul, el("p", {}, el("button", { type: "button", class: "secondary", text: "＋ 新增" })));
  left.querySelector("p button").addEventListener("click", () => { selected[tab] = add(); changed(); draw(); });
  const item = items.find((i) => keyOf(i) === key);
  return el("div", { class: "split" }, left, el("div", {}, item ? render(item, items.indexOf(item)) : el("p", { class: "muted", text: "暂无。" })));
}

function removeButton(text, items, item) {
  const b = el("button", { type: "button", class: "quiet", text });
  b.addEventListener("click", () => {
    if (!confirm(`确定${text}？应用前可放弃修改。`)) return;
    items.splice(items.indexOf(item), 1);
    selected[tab] = null;
    changed(); draw();
  });
  return b;
}

// A table of small entries (materials, categories, devices), one row each.
function rows(items, columns, path, blank) {
  const body = el("tbody");
  items.forEach((item, i) => {
    const tr = el("tr", { "data-path": `${path}[${i}]` });
    for (const [label, key, opts] of columns) {
      const cell = field(label, item, key, `${path}[${i}].${key}`, (typeof opts === "function" ? opts(item) : opts) ?? {});
      // The column header names it: the input keeps the name for screen readers, the text goes.
      for (const n of [...cell.childNodes]) if (n.nodeType === 3) n.remove();
      cell.querySelector("input, select")?.setAttribute("aria-label", label);
      tr.append(el("td", {}, cell));
    }
    const up = el("button", { type: "button", class: "quiet", text: "↑", "aria-label": "上移" });
    up.addEventListener("click", () => { if (i) { items.splice(i - 1, 0, items.splice(i, 1)[0]); changed(); draw(); } });
    const del = el("button", { type: "button", class: "quiet", text: "删除" });
    del.addEventListener("click", () => { items.splice(i, 1); changed(); draw(); });
    tr.append(el("td", { class: "tight" }, up, " ", del));
    body.append(tr);
  });
  const head = el("tr", {}, ...columns.map(([label]) => el("th", { text: label })), el("th"));
  const add = el("button", { type: "button", class: "secondary", text: "＋ 添加一行" });
  add.addEventListener("click", () => { items.push(blank()); changed(); draw(); });
  return el("div", {}, el("table", { class: "rows" }, el("thead", {}, head), body), add);
}

// A device's key column: the stored key is never shown (its hash reads ******); typing one replaces it.
const keyColumn = (item) => ({ optional: true, placeholder: item.key_hash || item.key ? "已配置，留空不变" : "未配置：不能使用" });
const categoryOptions = () => list("categories").map((c) => [c.id, `${c.name}（${c.id}）`]);
const windowChoices = () => list("windows").map((w) => [windowId(w), w.name ?? `${w.number}号窗口`]);
const serviceChoices = () => list("services").map((s) => [s.id, s.name]);

// [queue] fairness (docs/routing.md, "Fairness"); "" leaves the default (提前量).
const FAIRNESS = [["", "默认（提前量）"], ["head_start", "提前量：优先号按提前的分钟数排序"],
  ["ratio", "比例：优先号最多连续叫若干个"], ["strict", "严格优先"]];

// ---------------------------------------------------------------- tabs

const TABS = {
  hall() {
    const h = (doc.hall ??= {});
    const hours = (h.hours ??= {});
    const q = (doc.queue ??= {});
    const weekdays = el("fieldset", { class: "wide", "data-path": "hall.hours.weekdays" }, el("legend", { text: "开放日（每周）" }));
    const chips = el("div", { class: "chips" });
    const open = new Set(hours.weekdays ?? [1, 2, 3, 4, 5]);
    WEEKDAYS.forEach((name, i) => {
      const input = el("input", { type: "checkbox" });
      input.checked = open.has(i + 1);
      input.addEventListener("change", () => {
        hours.weekdays = [...chips.querySelectorAll("input")].flatMap((x, j) => (x.checked ? [j + 1] : []));
        changed();
      });
      chips.append(el("label", { class: "check" }, input, `星期${name}`));
    });
    weekdays.append(chips, el("span", { class: "field-error", "data-error-for": "hall.hours.weekdays" }));
    return el("div", {},
      el("h2", { text: "大厅" }),
      fields(field("大厅名称", h, "name", "hall.name"), field("时区", h, "timezone", "hall.timezone"),
        field("公网地址（二维码链接）", h, "public_url", "hall.public_url", { optional: true })),
      el("h2", { text: "服务时间" }),
      fields(periods("上午 / 下午开放时段", hours, "sessions", "hall.hours.sessions", { optional: false }),
        periods("午间值班", hours, "lunch_duty", "hall.hours.lunch_duty", { single: true }), weekdays,
        dates("法定节假日（不开放）", hours, "holidays", "hall.hours.holidays"),
        dates("调休上班日（周末开放）", hours, "workdays", "hall.hours.workdays")),
      el("h2", { text: "排队规则" }),
      fields(field("最长等候（分钟）", q, "max_wait_minutes", "queue.max_wait_minutes", { kind: "number", optional: true }),
        field("目标等候（分钟）", q, "target_wait_minutes", "queue.target_wait_minutes", { kind: "number", optional: true }),
        field("服务水平：比例（%）", q, "service_level_percent", "queue.service_level_percent",
          { kind: "number", optional: true, hint: "人手测算另按“百分之几的群众在几分钟内叫号”测算，与下一项同时填写" }),
        field("服务水平：时限（分钟）", q, "service_level_minutes", "queue.service_level_minutes", { kind: "number", optional: true }),
        field("优先与普通的公平规则", q, "fairness", "queue.fairness", { optional: true, options: FAIRNESS }),
        field("优先号提前量（分钟）", q, "priority_head_start_minutes", "queue.priority_head_start_minutes",
          { kind: "number", optional: true, hint: "提前量规则：优先号按早取号这么多分钟排序（0–240）" }),
        field("优先连续叫号上限", q, "priority_ratio", "queue.priority_ratio",
          { kind: "int", optional: true, hint: "仅“比例”规则：有普通号等候时，优先号最多连续叫几个" }),
        field("重呼次数上限", q, "recall_limit", "queue.recall_limit", { kind: "int", optional: true }),
        field("老年人年龄", q, "elderly_age", "queue.elderly_age", { kind: "int", optional: true })));
  },

  categories() {
    return el("div", {}, el("h2", { text: "主题（分类）" }),
      el("p", { class: "muted", text: "综合窗口服务“综合”主题；非综合主题（统一出件、咨询等）只由列出其事项的专门窗口服务。" }),
      rows(list("categories"), [["编号", "id"], ["名称", "name"], ["综合", "general", { kind: "bool" }]], "categories",
        () => ({ id: "", name: "", general: true })));
  },

  services() {
    const items = list("services");
    return el("div", {}, el("h2", { text: "事项" }), master(items, (s) => s.id, (s) => [s.name || "（未命名）", el("small", { text: `${s.id} · ${s.prefix ?? ""}` })],
      (s) => {
        const p = `services[id=${s.id}]`;
        const mats = (s.materials ??= []);
        return el("div", { "data-path": p },
          fields(field("编号", s, "id", `${p}.id`), field("事项名称", s, "name", `${p}.name`),
            field("主题", s, "category", `${p}.category`, { options: categoryOptions() }),
            field("号票字母", s, "prefix", `${p}.prefix`), field("预计办理分钟", s, "minutes", `${p}.minutes`, { kind: "number" }),
            field("办理时限", s, "time_limit", `${p}.time_limit`, { hint: "如：即办、承诺 5 个工作日" }),
            field("每日限号", s, "daily_cap", `${p}.daily_cap`, { kind: "int", optional: true }),
            periods("取号时段（空 = 开放时间）", s, "issuing_hours", `${p}.issuing_hours`),
            field("事项说明", s, "description", `${p}.description`, { kind: "textarea", optional: true, wide: true })),
          el("h3", { text: "十公开" }),
          fields(...SERVICE_TEXTS.map(([k, label]) => field(label, s, k, `${p}.${k}`, { optional: true, kind: k === "basis" || k === "conditions" ? "textarea" : "text", wide: k === "basis" || k === "conditions" }))),
          el("h3", { text: "一次性告知材料" }),
          rows(mats, [["材料名称", "name"], ["必交", "required", { kind: "bool" }], ["备注（容缺说明等）", "note", { optional: true }]],
            `${p}.materials`, () => ({ name: "", required: true })),
          el("p", {}, removeButton("删除此事项", items, s)));
      },
      () => {
        const id = `new_${items.length + 1}`;
        items.push({ id, name: "新事项", category: list("categories")[0]?.id ?? "", prefix: "A", minutes: 10, time_limit: "即办", materials: [] });
        return id;
      }));
  },

  windows() {
    const items = list("windows");
    const buses = doc.devices?.buses ?? [];
    return el("div", {}, el("h2", { text: "窗口" }), master(items, windowId, (w) => [w.name ?? `${w.number}号窗口`, el("small", { text: `${modeName(w.mode)}${w.label ? " · " + w.label : ""}` })],
      (w) => {
        const p = `windows[id=${windowId(w)}]`;
        const parts = [fields(field("窗口号", w, "number", `${p}.number`, { kind: "int" }),
          field("名称", w, "name", `${p}.name`, { optional: true }),
          field("模式", w, "mode", `${p}.mode`, { options: [["comprehensive", "全面综合（无差别）"], ["categorised", "分类综合"], ["special", "专门窗口"]] }),
          field("功能标签", w, "label", `${p}.label`, { optional: true, hint: "帮办代办 / 统一出件 / 咨询 / 跨省通办" }),
          field("午间值班", w, "lunch_duty", `${p}.lunch_duty`, { kind: "bool", optional: true }))];
        parts[0].querySelector("select").addEventListener("change", () => {
          if (w.mode !== "categorised") delete w.weights;
          if (w.mode !== "special") delete w.services;
          if (w.mode === "categorised") w.weights ??= {};
          if (w.mode === "special") w.services ??= [];
          draw();
        });
        if (w.mode === "categorised") {
          const weights = (w.weights ??= {});
          parts.push(el("h3", { text: "主题权重（技能）" }), fields(...list("categories").filter((c) => c.general !== false).map((c) => {
            const box = field(c.name, weights, c.id, `${p}.weights.${c.id}`, { kind: "number", optional: true });
            return box;
          })), el("span", { class: "field-error", "data-error-for": `${p}.weights` }));
        }
        if (w.mode === "special") parts.push(picks("服务的事项", w, "services", `${p}.services`, serviceChoices()));
        const attached = buses.flatMap((b, bi) => (b.devices ?? []).map((d, di) => ({ b, bi, d, di }))).filter(({ d }) => String(d.window) === windowId(w));
        parts.push(el("h3", { text: "设备" }), attached.length
          ? el("ul", {}, ...attached.map(({ b, d }) => el("li", { text: `${KINDS[d.kind] ?? d.kind}：总线 ${b.id} 地址 ${d.address}` })))
          : el("p", { class: "muted", text: "未接设备（在“自助机与设备”中设置总线上的设备）。" }));
        parts.push(el("p", {}, removeButton("删除此窗口", items, w)));
        return el("div", { "data-path": p }, ...parts);
      },
      () => {
        const number = Math.max(0, ...items.map((w) => w.number)) + 1;
        items.push({ number, mode: "comprehensive" });
        return String(number);
      }));
  },

  staff() {
    const items = list("staff");
    const managers = list("managers");
    return el("div", {}, el("h2", { text: "工作人员" }), master(items, (s) => s.id, (s) => [`${s.name || "（未命名）"}${s.disabled ? "（已停用）" : ""}`, el("small", { text: `${s.id} · ${s.unit ?? ""}` })],
      (s) => {
        const p = `staff[id=${s.id}]`;
        const pin = el("input", { type: "password", inputmode: "numeric", autocomplete: "new-password", placeholder: "4-8 位数字" });
        pin.dataset.path = `${p}.pin`;
        pin.addEventListener("input", () => {
          // A new PIN beside the hidden hash replaces it (the controller drops the hash); empty keeps it.
          if (pin.value) s.pin = pin.value; else delete s.pin;
          changed();
        });
        const img = el("img", { class: "photo", alt: `${s.name}的工作照` });
        showPhoto(img, s.id);
        const file = el("input", { type: "file", accept: "image/jpeg,image/png", "aria-label": "上传工作照" });
        file.addEventListener("change", () => uploadPhoto(s.id, file.files[0]));
        return el("div", { "data-path": p },
          fields(field("工号", s, "id", `${p}.id`), field("姓名", s, "name", `${p}.name`), field("单位", s, "unit", `${p}.unit`),
            el("label", {}, s.pin_hash ? "重置 PIN（留空不变）" : "PIN", pin, el("span", { class: "field-error", "data-error-for": `${p}.pin` })),
            field("停用", s, "disabled", `${p}.disabled`, { kind: "bool", optional: true })),
          picks("常驻窗口", s, "windows", `${p}.windows`, windowChoices()),
          picks("AB岗 / 可替岗窗口", s, "standin_windows", `${p}.standin_windows`, windowChoices(), { optional: true }),
          el("h3", { text: "工作照" }), el("div", { class: "bar-row" }, img, el("label", {}, "上传 JPEG / PNG（自动裁剪缩放，窗口屏显示）", file)),
          el("p", {}, removeButton("删除此人员", items, s)));
      },
      () => {
        const id = `NEW${String(items.length + 1).padStart(3, "0")}`;
        items.push({ id, name: "", unit: "", windows: [] });
        return id;
      }),
    el("h2", { text: "管理人员与角色" }),
    el("p", { class: "muted", text: "“管理员”可修改配置；“大厅管理”只能查看配置。新账号需填写密码；留空则密码不变。" }),
    rows(managers, [["账号", "id"], ["姓名", "name"], ["角色", "role", { options: [["manager", "大厅管理"], ["admin", "系统管理员"]] }],
      ["新密码", "password", { optional: true }]], "managers", () => ({ id: "", name: "", role: "manager", password: "" })));
  },

  devices() {
    const k = (doc.kiosks ??= {});
    const d = (doc.devices ??= {});
    const printers = (d.printers ??= []);
    const voice = (d.voice ??= {});
    const printerOptions = [["", "（无）"], ...printers.map((p) => [p.id, p.id])];
    return el("div", {},
      el("h2", { text: "自助取号机" }),
      el("p", { class: "muted", text: "设备密钥（≥16 位，可用 hall-controller kiosk-key / pad-key 生成）只保存其摘要；已配置的留空不变，填写即更换。在设备上打开一次 /kiosk/编号#key=密钥 或 /pad/窗口#key=密钥。" }),
      rows((k.kiosk ??= []), [["编号", "id"], ["名称", "name"], ["打印机", "printer", { options: printerOptions }], ["身份证阅读器", "id_reader", { optional: true }],
        ["密钥", "key", keyColumn]],
        "kiosks.kiosk", () => ({ id: "", name: "", printer: "", id_reader: "none" })),
      el("h2", { text: "平板评价器" }),
      rows((d.tablets ??= []), [["窗口", "window", { options: windowChoices() }], ["密钥", "key", keyColumn]],
        "devices.tablets", () => ({ window: windowChoices()[0]?.[0] ?? "" })),
      el("h2", { text: "打印机" }),
      rows(printers, [["编号", "id"], ["连接", "connection"], ["纸宽 (mm)", "paper_width", { kind: "int", optional: true }],
        ["打印材料清单", "material_checklist", { kind: "bool" }]], "devices.printers", () => ({ id: "", connection: "sim", material_checklist: true })),
      el("h2", { text: "RS-485 总线与设备地址" }),
      ...(d.buses ??= []).map((b, i) => el("div", { "data-path": `devices.buses[${i}]` },
        fields(field("总线", b, "id", `devices.buses[${i}].id`), field("端口", b, "port", `devices.buses[${i}].port`),
          field("波特率", b, "baud", `devices.buses[${i}].baud`, { kind: "int", optional: true })),
        rows((b.devices ??= []), [["地址", "address", { kind: "int" }], ["类型", "kind", { options: Object.entries(KINDS) }],
          ["窗口", "window", { options: windowChoices() }], ["亮度 %", "brightness", { kind: "int", optional: true }]],
          `devices.buses[${i}].devices`, () => ({ address: (b.devices.length ? Math.max(...b.devices.map((x) => x.address)) : 0) + 1, kind: "keypad", window: windowChoices()[0]?.[0] ?? "" })))),
      el("h2", { text: "语音播报" }),
      fields(field("启用", voice, "enabled", "devices.voice.enabled", { kind: "bool" }),
        field("播报次数", voice, "repeats", "devices.voice.repeats", { kind: "int", optional: true }),
        field("播报模板", voice, "template", "devices.voice.template", { optional: true, hint: "须含 {number} 与 {window}" })));
  },

  notices() {
    const text = el("textarea", { maxlength: "200", placeholder: "例如：今日 15:00 起暂停办理不动产登记，请谅解。" });
    const minutes = el("input", { type: "number", min: "1", max: "1440", placeholder: "不填 = 直到撤下" });
    const result = el("p", { class: "muted" });
    const post = el("button", { type: "button", text: "发布到大厅屏" });
    post.addEventListener("click", async () => {
      try {
        await call("/api/manager/notice", { method: "POST", body: { text: text.value.trim(), ...(minutes.value ? { minutes: Number(minutes.value) } : {}) } });
        result.textContent = "已发布。"; result.className = "ok";
      } catch (err) { result.textContent = err.message; result.className = "error"; }
    });
    return el("div", {}, el("h2", { text: "大厅公告" }),
      el("p", { class: "muted", text: "公告立即显示在大厅屏上，并记入台账；不属于配置版本。" }),
      el("label", { class: "wide" }, "公告内容", text), el("label", {}, "显示分钟", minutes), el("p", {}, post), result);
  },

  catalogue() {
    const file = el("input", { type: "file", accept: ".csv,.json,text/csv,application/json", "aria-label": "事项库文件" });
    const mapping = el("div", { class: "fields" });
    const defaults = { category: list("categories")[0]?.id ?? "", prefix: "A", minutes: 10 };
    const report = el("div");
    let text = "", format = "csv";
    const columns = {};
    const FIELDS = [["code", "事项编码"], ["name", "事项名称"], ["time_limit", "办理时限"], ["materials", "申请材料"],
      ["basis", "设定依据"], ["conditions", "受理条件"], ["fee", "收费标准"], ["phone", "监督电话"], ["description", "事项说明"]];
    for (const [k, col] of FIELDS) {
      columns[k] = col;
      mapping.append(field(`${col} ← 列名`, columns, k, `mapping.${k}`));
    }
    file.addEventListener("change", async () => {
      const f = file.files[0];
      if (!f) return;
      text = await f.text();
      format = f.name.toLowerCase().endsWith(".json") ? "json" : "csv";
      report.replaceChildren(el("p", { class: "muted", text: `已读入 ${f.name}（${format.toUpperCase()}），请核对列名映射后预览。` }));
    });
    const body = () => ({ text, format, mapping: columns, defaults: { ...defaults, minutes: Number(defaults.minutes) }, base_version: base });
    const previewButton = el("button", { type: "button", class: "secondary", text: "预览导入" });
    const importButton = el("button", { type: "button", text: "导入为新版本" });
    previewButton.addEventListener("click", async () => {
      if (!text) { report.replaceChildren(el("p", { class: "error", text: "请先选择文件。" })); return; }
      try {
        const r = await call("/api/admin/catalogue/preview", { method: "POST", body: body() });
        report.replaceChildren(catalogueReport(r.report), diffList(r.diff));
      } catch (err) { report.replaceChildren(el("p", { class: "error", text: err.message })); }
    });
    importButton.addEventListener("click", async () => {
      if (!text) { report.replaceChildren(el("p", { class: "error", text: "请先选择文件。" })); return; }
      try {
        const r = await call("/api/admin/catalogue/import", { method: "POST", body: body() });
        report.replaceChildren(el("p", { class: "ok", text: `已导入，当前版本 ${r.version}。` }), catalogueReport(r.report));
        await load();
      } catch (err) { report.replaceChildren(el("p", { class: "error", text: err.message })); }
    });
    return el("div", {}, el("h2", { text: "事项库导入（同源发布）" }),
      el("p", { class: "muted", text: "导入省事项库导出的 CSV / JSON：按事项编码匹配，更新名称、时限、材料与十公开内容；本厅自建事项（无编码）保留不动。" }),
      el("label", {}, "事项库文件", file), el("h3", { text: "列名映射" }), mapping,
      el("h3", { text: "新事项的默认值" }),
      fields(field("主题", defaults, "category", "defaults.category", { options: categoryOptions() }),
        field("号票字母", defaults, "prefix", "defaults.prefix"), field("预计办理分钟", defaults, "minutes", "defaults.minutes", { kind: "number" })),
      el("div", { class: "bar-row" }, el("span"), previewButton, importButton), report);
  },

  versions() {
    const box = el("div", {}, el("h2", { text: "版本记录" }), el("p", { class: "muted", text: "载入中…" }));
    call("/api/admin/config/versions").then((r) => {
      box.replaceChildren(el("h2", { text: `版本记录（当前：版本 ${r.current}）` }));
      for (const v of r.versions) {
        const back = el("button", { type: "button", class: "quiet", text: `回退到版本 ${v.version}` });
        back.addEventListener("click", async () => {
          if (!confirm(`以版本 ${v.version} 的内容生成新版本？`)) return;
          try { await call("/api/admin/config/rollback", { method: "POST", body: { version: v.version, base_version: base } }); await load(); }
          catch (err) { onError(err); }
        });
        box.append(el("details", { class: "version", "data-version": String(v.version) },
          el("summary", {}, el("b", { text: `版本 ${v.version}` }), el("span", { text: fmt(v.at) }), el("span", { text: v.by }),
            el("span", { class: "summary", text: v.summary }), v.version === r.current ? el("span", { class: "pill", text: "当前" }) : back),
          diffList(v.diff)));
      }
    }).catch(onError);
    return box;
  },

  raw() {
    const sections = Object.keys(doc);
    const box = el("div", {}, el("h2", { text: "全部配置（JSON，按节）" }),
      el("p", { class: "muted", text: "表单未涵盖的设置（预约、评价、数据上报、各功能的参数等）在此编辑；与 TOML 文件同结构。" }));
    for (const key of [...sections.filter((k) => !KNOWN.includes(k)), ...KNOWN.filter((k) => k in doc)]) {
      const area = el("textarea", { class: "json", spellcheck: "false", "data-path": key, "aria-label": `[${key}] 配置（JSON）` });
      area.value = JSON.stringify(doc[key], null, 2);
      const note = el("span", { class: "field-error", "data-error-for": key });
      area.addEventListener("input", () => {
        try { doc[key] = JSON.parse(area.value); note.textContent = ""; changed(); }
        catch (err) { note.textContent = `JSON 格式错误：${err.message}`; }
      });
      box.append(el("h3", { text: `[${key}]` }), area, note);
    }
    return box;
  },
};

const KINDS = { keypad: "呼叫器", display: "窗口屏", pad: "评价器" };
const modeName = (m) => ({ comprehensive: "全面综合", categorised: "分类综合", special: "专门窗口" })[m] ?? m;

function catalogueReport(r) {
  return el("ul", {},
    el("li", { text: `新增 ${r.added.length} 项${r.added.length ? "：" + r.added.map((a) => `${a.name}（${a.code}）`).join("、") : ""}` }),
    el("li", { text: `更新 ${r.changed.length} 项${r.changed.length ? "：" + r.changed.map((c) => `${c.name}（${c.fields.join("、")}）`).join("；") : ""}` }),
    el("li", { text: `未变 ${r.unchanged} 项；本厅自建事项保留 ${r.local.length} 项` }),
    r.missing.length ? el("li", { class: "bad", text: `事项库中已无：${r.missing.join("、")}（保留，请人工确认）` }) : "");
}

function diffList(lines) {
  return el("ul", { class: "diff" }, ...(lines.length ? lines : ["（无变化）"]).map((line) =>
    el("li", { class: { "+": "add", "-": "del", "~": "mod" }[line[0]] ?? "", text: line })));
}

// ---------------------------------------------------------------- drawing, errors, apply

function draw() {
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  $("panel").replaceChildren(TABS[tab]());
  $("changes").classList.toggle("hidden", ["notices", "catalogue", "versions"].includes(tab));
  if (errorPath) markError(errorPath.path, errorPath.message, false);
}

// The tab and the input for a key the controller named, e.g. services[id=hukou_move].materials[1].name.
function tabOf(path) {
  const head = path.split(/[.[]/)[0];
  if (["hall", "queue"].includes(head)) return "hall";
  if (["categories", "services", "windows"].includes(head)) return head;
  if (["staff", "managers"].includes(head)) return "staff";
  if (path.startsWith("devices.voice") || path.startsWith("devices.printers") || path.startsWith("devices.buses") || path.startsWith("devices.tablets") || path.startsWith("kiosks.kiosk")) return "devices";
  return "raw";
}

function markError(path, message, jump = true) {
  errorPath = { path, message };
  if (jump) {
    const t = tabOf(path);
    const m = path.match(/^(\w+)\[id=([^\]]+)\]/);
    if (m) selected[t] = m[2];
    if (t !== tab) { tab = t; draw(); return; }
  }
  // The closest element the path (or a shorter form of it) names: the field, else its entry, else its section.
  let target = null;
  for (let p = path; p && !target; p = p.replace(/(\.[^.[\]]*|\[[^\]]*\])$/, "")) {
    target = document.querySelector(`[data-error-for="${CSS.escape(p)}"]`) || document.querySelector(`[data-path="${CSS.escape(p)}"]`);
    if (!p.match(/(\.[^.[\]]*|\[[^\]]*\])$/)) break;
  }
  const note = target?.matches("[data-error-for]") ? target : target?.querySelector?.("[data-error-for]") ?? null;
  if (note) {
    note.textContent = message;
    note.closest("label, fieldset, tr, div")?.classList.add("has-error");
    note.scrollIntoView({ block: "center" });
  } else {
    $("message").textContent = message;
  }
  $("message").textContent = `${path}：${message}`;
}

function clearErrors() {
  errorPath = null;
  $("message").textContent = "";
  for (const n of document.querySelectorAll("[data-error-for]")) n.textContent = "";
  for (const n of document.querySelectorAll(".has-error")) n.classList.remove("has-error");
}

async function preview() {
  clearErrors();
  try {
    const r = await call("/api/admin/config/preview", { method: "POST", body: { config: doc } });
    $("review-summary").textContent = r.summary;
    $("diff").replaceWith(Object.assign(diffList(r.diff), { id: "diff" }));
    $("conflicts").textContent = r.conflicts.length ? "无法应用：" + r.conflicts.join("；") : "";
    $("apply").disabled = !r.diff.length || r.conflicts.length > 0;
    $("review").classList.remove("hidden");
    $("review").scrollIntoView({ block: "nearest" });
  } catch (err) { showError(err); }
}

async function apply() {
  clearErrors();
  try {
    const summary = $("summary").value.trim();
    const r = await call("/api/admin/config", { method: "PUT", body: { base_version: base, config: doc, ...(summary ? { summary } : {}) } });
    $("summary").value = "";
    await load();
    $("message").textContent = "";
    $("dirty").textContent = `已应用为版本 ${r.version}`;
    $("dirty").className = "ok";
  } catch (err) { showError(err); }
}

function showError(err) {
  if (err.status === 422 && err.field) { markError(err.field, err.message.replace(/^配置有误：[^：]*：/, "")); return; }
  if (err.status === 409 && err.code === "version_conflict") {
    $("message").textContent = `${err.message}（您的修改仍在页面上；点“放弃修改”载入最新版本）`;
    return;
  }
  onError(err);
}

// The stored photo through the admin API (an <img> cannot send the bearer token).
async function showPhoto(img, staffId) {
  const r = await fetch(`/api/admin/staff/${encodeURIComponent(staffId)}/photo`, { headers: { authorization: `Bearer ${token()}` } });
  if (r.ok) img.src = URL.createObjectURL(await r.blob()); else img.replaceWith(el("span", { class: "photo muted", text: "暂无工作照" }));
}

async function uploadPhoto(staffId, file) {
  if (!file) return;
  const r = await fetch(`/api/admin/staff/${encodeURIComponent(staffId)}/photo`, {
    method: "PUT", headers: { authorization: `Bearer ${token()}`, "content-type": file.type || "application/octet-stream" }, body: file });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { onError(Object.assign(new Error(data.message || "上传失败"), { status: r.status })); return; }
  await load();
}

// Reads the current version into the forms.
async function load() {
  const r = await call("/api/admin/config");
  base = r.version;
  original = JSON.stringify(r.config);
  doc = clone(r.config);
  $("version").textContent = `当前版本 ${base}`;
  changed();
  draw();
}

requireManager(async () => {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => { tab = b.dataset.tab; location.hash = tab; clearErrors(); draw(); });
  }
  $("preview").addEventListener("click", preview);
  $("apply").addEventListener("click", apply);
  $("cancel-review").addEventListener("click", () => $("review").classList.add("hidden"));
  $("discard").addEventListener("click", () => { doc = null; clearErrors(); load(); });
  await load();
  // Another version (another admin, a rollback, an import): shown at once when nothing is being edited; over
  // unapplied edits only a notice — applying them is refused (409), never a silent overwrite of the new one.
  new HallEvents({ since: null, onEvent: () => {}, onConfig: (e) => {
    if (e.data.version === base) return;
    if (JSON.stringify(doc) === original) load();
    else $("message").textContent = `配置已被 ${e.data.by} 修改为版本 ${e.data.version}：${e.data.summary}。您的修改基于版本 ${base}，请放弃修改后重新编辑。`;
  } });
});
