// The hall as a screen sees it: built once from GET /api/board, then kept current by applying each hall
// event in order (HallEvents guarantees no gap and no repeat), so screens never reload.

const RECENT = 12;
const HELD = new Set(["called", "serving"]);
const CALLS = new Set(["ticket.called", "ticket.recalled"]);
// Events that take a ticket out of the queue; for a ticket this screen has not seen before, they say
// where it was (every other ticket event moves a ticket that was not waiting).
const FROM_QUEUE = new Set(["ticket.called", "ticket.cancelled"]);

export class HallState {
  constructor(snapshot) {
    this.hall = snapshot.hall;
    this.staff = snapshot.staff || {};
    // Screens show the hall's clock (which a training or test hall may shift), in the hall's timezone.
    this.clockOffset = Date.parse(snapshot.at) - Date.now();
    const tz = /([+-])(\d\d):(\d\d)$/.exec(snapshot.at);
    this.tzMs = tz ? (tz[1] === "-" ? -1 : 1) * (Number(tz[2]) * 60 + Number(tz[3])) * 60000 : 0;
    this.windows = new Map(snapshot.windows.map((w) => [w.id, {
      id: w.id, number: w.number, name: w.name, label: w.label, state: w.state, since: w.since,
      pause_reason: w.pause_reason, staff_id: w.staff ? w.staff.id : null, standin: w.staff ? w.staff.standin : false,
      ticket: w.ticket,
    }]));
    this.queues = new Map(snapshot.queues.map((q) => [q.category_id, { ...q }]));
    this.recent = (snapshot.recent_calls || []).map(callOf).reduce(addCall, []);
    this.notice = snapshot.notice;
    this.seen = new Map(); // ticket id -> {status, category_id}, for tickets this screen saw move
  }

  // The hall's wall-clock time: read it with the getUTC* methods.
  wallClock() { return new Date(Date.now() + this.clockOffset + this.tzMs); }

  // Applies one event; returns what changed so a page can redraw just that (and flash a new call).
  apply(event) {
    const changed = { windows: new Set(), queues: false, call: null, notice: false };
    const data = event.data || {};
    if (data.ticket && data.ticket.id) this.applyTicket(event, data, changed);
    const ws = data.window && (data.window.window || data.window);
    if (ws && ws.id && ws.state && this.windows.has(ws.id)) {
      const w = this.windows.get(ws.id);
      Object.assign(w, { state: ws.state, since: ws.since, pause_reason: ws.pause_reason,
                         staff_id: ws.staff_id, standin: ws.standin });
      if (!ws.ticket_id) w.ticket = null;
      changed.windows.add(ws.id);
    }
    if (event.type === "staff.signed_in" && data.staff) {
      this.staff[data.staff.id] = { ...data.staff, photo_url: `/staff-photo/${encodeURIComponent(data.staff.id)}` };
    }
    if (event.type === "hall.notice") {
      this.notice = { seq: event.seq, at: event.at, text: data.text || "", by: data.by, until: data.until };
      changed.notice = true;
    }
    return changed;
  }

  applyTicket(event, data, changed) {
    const t = data.ticket;
    const before = this.seen.get(t.id) || (FROM_QUEUE.has(event.type) ? { status: "waiting", category_id: t.category_id } : null);
    if (before && before.status === "waiting") this.bump(before.category_id, -1, changed);
    if (t.status === "waiting") this.bump(t.category_id, +1, changed);
    this.seen.set(t.id, { status: t.status, category_id: t.category_id });

    if (event.type === "ticket.transferred" && data.from_window_id) this.release(data.from_window_id, t.id, changed);
    if (HELD.has(t.status) && data.window_id && this.windows.has(data.window_id)) {
      const w = this.windows.get(data.window_id);
      w.ticket = t; w.state = "serving";
      changed.windows.add(w.id);
    } else if (!HELD.has(t.status) && t.window_id) {
      this.release(t.window_id, t.id, changed);
    }
    if (CALLS.has(event.type)) {
      changed.call = callOf(event);
      this.recent = addCall(this.recent, changed.call);
    }
  }

  bump(categoryId, delta, changed) {
    const q = this.queues.get(categoryId);
    if (!q) return;
    q.waiting = Math.max(0, q.waiting + delta);
    changed.queues = true;
  }

  release(windowId, ticketId, changed) {
    const w = this.windows.get(windowId);
    if (!w || !w.ticket || w.ticket.id !== ticketId) return;
    w.ticket = null;
    if (w.state === "serving") w.state = "open";
    changed.windows.add(windowId);
  }

  // The manager's notice while it is in force (empty text withdraws it; `until` ends it).
  noticeText() {
    const n = this.notice;
    if (!n || !n.text || (n.until && Date.parse(n.until) <= Date.now() + this.clockOffset)) return "";
    return n.text;
  }

  totalWaiting() { let n = 0; for (const q of this.queues.values()) n += q.waiting; return n; }
}

function callOf(event) {
  const d = event.data;
  return { seq: event.seq, at: event.at, recall: event.type === "ticket.recalled", ticket_id: d.ticket.id,
           number: d.ticket.number, service_name: d.ticket.service_name, window_id: d.window_id,
           window_number: d.window_number ?? d.ticket.window_number, window_name: d.ticket.window_name };
}

// Newest first; a recall moves its ticket back to the top instead of listing it twice.
function addCall(list, call) {
  return [call, ...list.filter((c) => c.ticket_id !== call.ticket_id)].slice(0, RECENT);
}

// Window states as citizens read them.
export const STATE_LABELS = {
  open: "等待叫号", serving: "正在办理", paused: "暂停服务", closed: "窗口关闭", signed_out: "暂未开放",
};

// Event times are the hall's local ISO times: "2026-11-23T09:31:05+08:00" → "09:31".
export function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
