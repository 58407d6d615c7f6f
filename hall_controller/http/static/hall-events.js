// Live hall events over WebSocket with resume: every page keeps the last seq it applied and reconnects
// with ?since=seq, so a network blip or a controller restart loses nothing and repeats nothing.
// A new configuration version (`config.changed`, made at /admin) reloads the page by default, so it shows
// the hall as now configured; a page that can refresh in place passes `onConfig`.
export const CONFIG_RELOAD_MS = 300;

export class HallEvents {
  constructor({ since = null, onEvent, onStatus = () => {}, onConfig = reloadSoon }) {
    this.last = since;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onConfig = onConfig;
    this.backoff = 250;
    this.stopped = false;
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const query = this.last === null ? "" : `?since=${this.last}`;
    const ws = new WebSocket(`${proto}://${location.host}/ws/events${query}`);
    this.ws = ws;
    ws.onopen = () => { this.backoff = 250; this.onStatus(true); };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (this.last !== null && event.seq <= this.last) return;
      this.last = event.seq;
      if (event.type === "config.changed") this.onConfig(event);
      else this.onEvent(event);
    };
    ws.onclose = () => {
      this.onStatus(false);
      if (this.stopped) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 4000);
    };
  }

  stop() { this.stopped = true; this.ws.close(); }
}

function reloadSoon() { setTimeout(() => location.reload(), CONFIG_RELOAD_MS); }

// JSON fetch that turns the controller's {"error", "message"} bodies into thrown Errors with the 中文 message.
export async function api(path, { method = "GET", body, token, headers: extra } = {}) {
  const headers = { "content-type": "application/json", ...extra };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.message || `请求失败（${r.status}）`);
    err.code = data.error; err.status = r.status; err.field = data.field;
    throw err;
  }
  return data;
}

// 张三 → 张*; 欧阳修文 → 欧**文: names on public screens are masked.
export function maskName(name) {
  if (!name) return "";
  const chars = [...name];
  if (chars.length <= 2) return chars[0] + "*";
  return chars[0] + "*".repeat(chars.length - 2) + chars[chars.length - 1];
}

// A device's key (a kiosk's, a tablet pad's), provisioned once by opening its page with `#key=…` on it: kept
// in the device's localStorage under `item` and taken out of the address bar. "" = not provisioned.
export function provisionedKey(item) {
  const given = new URLSearchParams(location.hash.slice(1)).get("key");
  if (given) {
    localStorage.setItem(item, given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(item) || "";
}
