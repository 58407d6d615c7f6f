// The region board: re-reads GET /api/region/overview every 5 s and redraws the halls' rows in place.
"use strict";
(function () {
  const body = document.querySelector("#halls tbody");
  const link = document.getElementById("link");
  const minutes = (s) => (s ? Math.round(s / 60) + " 分钟" : "—");
  const rate = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");
  const cell = (text, num) => {
    const td = document.createElement("td");
    if (num) td.className = "num";
    td.textContent = text;
    return td;
  };

  function row(h) {
    const tr = document.createElement("tr");
    tr.dataset.hall = h.hall_id;
    if (h.alerts.length) tr.className = "alert";
    const name = document.createElement("td");
    const a = document.createElement("a");
    a.href = "/halls/" + encodeURIComponent(h.hall_id);
    a.textContent = h.name;
    name.appendChild(a);
    tr.append(name, cell(h.issued_today, true), cell(h.served_today, true), cell(h.waiting, true),
      cell(minutes(h.longest_wait_s), true), cell(h.windows_open, true), cell(rate(h.satisfied_rate), true));
    const alerts = document.createElement("td");
    for (const text of h.alerts) {
      const pill = document.createElement("span");
      pill.className = "pill open";
      pill.textContent = text;
      alerts.append(pill, " ");
    }
    tr.appendChild(alerts);
    return tr;
  }

  function totals(halls) {
    const sum = (k) => halls.reduce((n, h) => n + h[k], 0);
    document.getElementById("t-halls").textContent = halls.length;
    document.getElementById("t-issued").textContent = sum("issued_today");
    document.getElementById("t-served").textContent = sum("served_today");
    document.getElementById("t-waiting").textContent = sum("waiting");
    document.getElementById("t-windows").textContent = sum("windows_open");
    const alerts = halls.filter((h) => h.alerts.length).length;
    const el = document.getElementById("t-alerts");
    el.textContent = alerts;
    el.className = alerts ? "bad" : "";
  }

  async function refresh() {
    try {
      const r = await fetch("/api/region/overview", { cache: "no-store" });
      if (r.status === 401) {  // signed out elsewhere or the sign-in ended: to the sign-in page, back here after
        location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
        return;
      }
      if (!r.ok) throw new Error((await r.json()).message || r.status);
      const data = await r.json();
      if (data.halls.length) body.replaceChildren(...data.halls.map(row));
      totals(data.halls);
      document.getElementById("updated").textContent = data.at.slice(0, 19).replace("T", " ");
      link.textContent = "每 5 秒自动刷新。";
      link.dataset.online = "true";
    } catch (err) {
      link.textContent = "暂时无法刷新：" + err.message + "（稍后自动重试）";
      link.dataset.online = "false";
    }
  }
  setInterval(refresh, 5000);
  refresh();
})();
