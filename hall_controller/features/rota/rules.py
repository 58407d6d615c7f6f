"""排班 and 请销假, pure: the weekly rota, leave requests and their approval, who is rostered on a day, and the
B岗 stand-in limits (嘉峪关 第十二条: one stand-in spell at most 20 working days, at most 40 a year).

A week without a published rota falls back to the hall's standing arrangement: every configured staff member
at their first regular window on every working day (what the hall assumed before rotas existed). A published
week says exactly who works: a day with nobody on it has nobody expected. Approved leave takes a person off
whatever the rota says (a half-day leave takes that half). Nothing here reads the ledger or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.calendar import is_open_day, is_working_day, sessions_on
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.settings import HallConfig, Hours

SHIFTS: dict[str, str] = {"full": "全天", "am": "上午", "pm": "下午"}
DEFAULT_LEAVE_TYPES: dict[str, str] = {
    "personal": "事假", "sick": "病假", "annual": "年休假", "marriage": "婚假", "maternity": "产假",
    "bereavement": "丧假", "official": "因公外出", "compensatory": "调休",
}
LEAVE_STATES: dict[str, str] = {"pending": "待审批", "approved": "已批准", "rejected": "未批准",
                                "cancelled": "已撤销", "returned": "已销假"}
LEAVE_REASON_MAX = 500


@dataclass(frozen=True)
class RotaSettings:
    """The `[rota]` section."""

    leave_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEAVE_TYPES))
    standin_run_days: int = 20  # one B岗 spell, working days
    standin_year_days: int = 40  # B岗 days in a calendar year
    standin_warn_days: int = 3  # warn this many days before either limit
    weeks_ahead: int = 8  # a rota may be published this many weeks ahead


@dataclass(frozen=True)
class Duty:
    """One person's duty on one day: the window, the shift, and whether they hold the 午间值班."""

    staff_id: str
    window_id: str
    shift: str = "full"
    lunch_duty: bool = False
    source: str = "rota"  # "rota" (published) or "standing" (no rota that week)

    def sessions(self, count: int) -> tuple[int, ...]:
        """Indexes of the day's opening sessions this duty covers: 上午 is the first, 下午 the rest."""
        if self.shift == "am":
            return (0,) if count else ()
        if self.shift == "pm":
            return tuple(range(1, count)) if count > 1 else tuple(range(count))
        return tuple(range(count))

    def view(self) -> dict[str, Any]:
        return {"staff_id": self.staff_id, "window_id": self.window_id, "shift": self.shift,
                "shift_name": SHIFTS[self.shift], "lunch_duty": self.lunch_duty, "source": self.source}


def week_of(d: date) -> date:
    """The Monday of d's ISO week: rotas are published a week at a time."""
    return d - timedelta(days=d.weekday())


# ------------------------------------------------------------------------------------ rota


def check_week(week: date, entries: Sequence[Mapping[str, Any]], config: HallConfig,
               leaves: Iterable[Mapping[str, Any]]) -> list[tuple[str, Duty]]:
    """Validate a week's entries (`{day, staff_id, window_id, shift, lunch_duty}`) and return them as
    (day, Duty) pairs. Refuses: another week's day, a closed day, unknown staff or window, a window the person
    is not assigned to (regular or B岗), the same person twice on a day, and a duty during approved leave."""
    out: list[tuple[str, Duty]] = []
    seen: set[tuple[str, str]] = set()
    approved = [lv for lv in leaves if lv["state"] == "approved"]
    for i, e in enumerate(entries):
        where = f"第{i + 1}条排班"
        try:
            d = date.fromisoformat(str(e.get("day")))
        except ValueError:
            raise HallError("invalid_rota", f"{where}：日期格式应为 YYYY-MM-DD。", 422) from None
        if week_of(d) != week:
            raise HallError("invalid_rota", f"{where}：{d} 不在 {week} 开始的这一周。", 422)
        if not is_open_day(d, config.hours):
            raise HallError("day_closed", f"{where}：{d:%m月%d日}大厅不办公（可先在日历中设置节假日服务）。", 422)
        staff = config.staff_member(str(e.get("staff_id")))
        if staff is None:
            raise HallError("unknown_staff", f"{where}：未找到工作人员 {e.get('staff_id')}。", 404)
        window = config.window(str(e.get("window_id")))
        if window is None:
            raise HallError("unknown_window", f"{where}：未找到窗口 {e.get('window_id')}。", 404)
        if window.id not in staff.windows and window.id not in staff.standin_windows:
            raise HallError("not_assigned", f"{where}：{staff.name}未被安排在{window.name}（含B岗）。", 422)
        shift = str(e.get("shift") or "full")
        if shift not in SHIFTS:
            raise HallError("invalid_rota", f"{where}：班次应为 full（全天）、am（上午）或 pm（下午）。", 422)
        lunch = bool(e.get("lunch_duty"))
        if lunch and (not window.lunch_duty or config.hours.lunch_duty is None or shift != "full"
                      or not is_working_day(d, config.hours)):
            raise HallError("invalid_rota", f"{where}：午间值班须在午间值班窗口、工作日的全天班次。", 422)
        if (d.isoformat(), staff.id) in seen:
            raise HallError("invalid_rota", f"{where}：{staff.name}在 {d} 已有排班。", 422)
        seen.add((d.isoformat(), staff.id))
        for lv in approved:
            if lv["staff_id"] == staff.id and covers(lv, d) and _overlaps(lv.get("half") or "", shift):
                raise HallError("on_leave", f"{where}：{staff.name}在 {d} 请假（{lv.get('type_name', lv['type'])}），"
                                            "不能排班。", 409)
        out.append((d.isoformat(), Duty(staff.id, window.id, shift, lunch)))
    return out


def _overlaps(half: str, shift: str) -> bool:
    return not half or shift == "full" or half == shift


def publish_week(week: date, duties: Sequence[tuple[str, Duty]], note: str, by: str, now: datetime,
                 warnings: Sequence[str]) -> Decision:
    row = {"week": week.isoformat(), "entries": [{"day": day, **duty.view()} for day, duty in duties],
           "note": note, "by": by, "at": now.isoformat()}
    d = Decision(rows=[("rota_weeks", row)], result={**row, "warnings": list(warnings)})
    d.emit("rota.published", {"week": row["week"], "entries": len(duties), "by": by, "warnings": list(warnings)})
    return d


def rostered(day: date, week_row: Mapping[str, Any] | None, leaves: Iterable[Mapping[str, Any]],
             config: HallConfig) -> dict[str, Duty]:
    """Who works on `day` and where: the published week's entries, else the standing arrangement on a working
    day; minus approved leave (a half-day leave leaves the other half)."""
    if week_row is not None:
        duties = {e["staff_id"]: Duty(e["staff_id"], e["window_id"], e.get("shift") or "full",
                                      bool(e.get("lunch_duty")))
                  for e in week_row["entries"] if e["day"] == day.isoformat()}
    elif is_working_day(day, config.hours):
        duties = {s.id: Duty(s.id, s.windows[0], "full", _lunch_window(config, s.windows[0]), "standing")
                  for s in config.staff if s.windows}
    else:
        duties = {}
    for lv in leaves:
        if lv["state"] != "approved" or lv["staff_id"] not in duties or not covers(lv, day):
            continue
        duty = duties[lv["staff_id"]]
        half = lv.get("half") or ""
        if not half or duty.shift == half:
            del duties[lv["staff_id"]]
        elif duty.shift == "full":
            duties[lv["staff_id"]] = Duty(duty.staff_id, duty.window_id, "pm" if half == "am" else "am", False,
                                          duty.source)
    return duties


def _lunch_window(config: HallConfig, window_id: str) -> bool:
    w = config.window(window_id)
    return bool(w and w.lunch_duty and config.hours.lunch_duty is not None)


def on_leave(day: date, leaves: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Approved leave covering `day`, by staff id."""
    return {lv["staff_id"]: lv for lv in leaves if lv["state"] == "approved" and covers(lv, day)}


def expected_sessions(day: date, duties: Mapping[str, Duty], hours: Hours) -> dict[str, tuple[int, ...]]:
    """For attendance: the session indexes each rostered person is expected at on `day`."""
    count = len(sessions_on(day, hours))
    return {sid: duty.sessions(count) for sid, duty in duties.items()}


# ------------------------------------------------------------------------------------ leave


def covers(leave: Mapping[str, Any], day: date) -> bool:
    """Whether the leave includes `day` (销假 early ends it the day before the return)."""
    end = leave["end"]
    if leave.get("returned_on"):
        end = min(end, (date.fromisoformat(leave["returned_on"]) - timedelta(days=1)).isoformat())
    return leave["start"] <= day.isoformat() <= end


def request_leave(leave_id: str, staff_id: str, type_: str, start: str, end: str, half: str, reason: str,
                  by: str, manager: bool, config: HallConfig, settings: RotaSettings, existing: Iterable[Mapping[str, Any]],
                  now: datetime) -> Decision:
    """请假: a staff member asks before the leave starts (事前请假); a manager may register one already begun
    (补登记, marked `late`). Overlapping live requests of the same person are refused."""
    staff = config.staff_member(staff_id)
    if staff is None:
        raise HallError("unknown_staff", f"未找到工作人员：{staff_id}", 404)
    if type_ not in settings.leave_types:
        raise HallError("invalid_leave_type", f"假别无效，可选：{'、'.join(settings.leave_types.values())}。", 422)
    try:
        d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise HallError("invalid_leave", "请假日期格式应为 YYYY-MM-DD。", 422) from None
    if d1 < d0:
        raise HallError("invalid_leave", "结束日期不能早于开始日期。", 422)
    if (d1 - d0).days > 366:
        raise HallError("invalid_leave", "单次请假不能超过一年。", 422)
    if half not in ("", "am", "pm"):
        raise HallError("invalid_leave", "半天假应为 am（上午）或 pm（下午）。", 422)
    if half and d0 != d1:
        raise HallError("invalid_leave", "半天假的开始与结束须为同一天。", 422)
    if not reason.strip() or len(reason) > LEAVE_REASON_MAX:
        raise HallError("invalid_leave", f"请填写请假事由（不超过 {LEAVE_REASON_MAX} 字）。", 422)
    late = d0 < now.date()
    if late and not manager:
        raise HallError("leave_after_start", "请假须事前申请；已开始的请假请由大厅管理人员补登记。", 409)
    for other in existing:
        if other["staff_id"] == staff_id and other["state"] in ("pending", "approved") \
                and other["start"] <= end and start <= other["end"] \
                and (not half or not other.get("half") or other.get("half") == half):
            raise HallError("leave_overlaps", f"与已有请假（{other['start']} 至 {other['end']}）重叠。", 409)
    row = {"id": leave_id, "staff_id": staff_id, "type": type_, "start": start, "end": end, "half": half,
           "reason": reason.strip(), "state": "pending", "requested_by": by, "requested_at": now.isoformat(),
           "late": late, "decided_by": None, "decided_at": None, "decision_note": None, "returned_on": None,
           "returned_at": None}
    d = Decision(rows=[("leaves", row)], result=row)
    d.emit("leave.requested", view(row, settings))
    return d


def decide_leave(leave: Mapping[str, Any], approve: bool, note: str, by: str, settings: RotaSettings,
                 now: datetime) -> Decision:
    """审批: a manager approves or rejects a pending request."""
    if leave["state"] != "pending":
        raise HallError("invalid_leave_state", f"该请假当前为「{LEAVE_STATES[leave['state']]}」，不能审批。", 409)
    row = {**leave, "state": "approved" if approve else "rejected", "decided_by": by, "decided_at": now.isoformat(),
           "decision_note": note.strip() or None}
    d = Decision(rows=[("leaves", row)], result=row)
    d.emit("leave.approved" if approve else "leave.rejected", {**view(row, settings), "by": by})
    return d


def cancel_leave(leave: Mapping[str, Any], by: str, settings: RotaSettings, now: datetime) -> Decision:
    """撤销: a pending request, or an approved one that has not begun."""
    if leave["state"] not in ("pending", "approved") or (leave["state"] == "approved"
                                                         and leave["start"] <= now.date().isoformat()):
        raise HallError("invalid_leave_state", "只能撤销待审批或尚未开始的请假；已开始的请假请办理销假。", 409)
    row = {**leave, "state": "cancelled", "decided_by": by, "decided_at": now.isoformat()}
    d = Decision(rows=[("leaves", row)], result=row)
    d.emit("leave.cancelled", {**view(row, settings), "by": by})
    return d


def return_from_leave(leave: Mapping[str, Any], returned_on: str, by: str, settings: RotaSettings,
                      now: datetime) -> Decision:
    """销假: back at work on `returned_on` (at most the day after the leave's end; earlier cuts it short)."""
    if leave["state"] != "approved":
        raise HallError("invalid_leave_state", "只有已批准的请假可以销假。", 409)
    try:
        back = date.fromisoformat(returned_on)
    except ValueError:
        raise HallError("invalid_leave", "销假日期格式应为 YYYY-MM-DD。", 422) from None
    if back.isoformat() <= leave["start"] or back > now.date():
        raise HallError("invalid_leave", "销假日期应在请假开始之后，且不晚于今天。", 422)
    row = {**leave, "state": "returned", "returned_on": back.isoformat(), "returned_at": now.isoformat()}
    d = Decision(rows=[("leaves", row)], result=row)
    d.emit("leave.returned", {**view(row, settings), "by": by})
    return d


def unreturned(leaves: Iterable[Mapping[str, Any]], today: date) -> list[Mapping[str, Any]]:
    """Approved leave whose last day has passed with no 销假 (未销假)."""
    return [lv for lv in leaves if lv["state"] == "approved" and lv["end"] < today.isoformat()]


def view(leave: Mapping[str, Any], settings: RotaSettings) -> dict[str, Any]:
    """A leave as events and answers carry it (the reason stays on the manager's pages and the row)."""
    out = {k: v for k, v in leave.items() if k != "reason"}
    out["leave_id"] = out.pop("id")
    out["type_name"] = settings.leave_types.get(leave["type"], leave["type"])
    out["state_name"] = LEAVE_STATES[leave["state"]]
    out["late"] = bool(leave.get("late"))
    return out


# ------------------------------------------------------------------------------------ B岗 limits


@dataclass(frozen=True)
class StandinCount:
    run: int  # working days of the current unbroken spell, `day` included
    year: int  # stand-in working days in `day`'s calendar year, `day` included
    verdict: str  # "ok" | "warn" | "refuse"
    message: str


def standin_count(day: date, days: Iterable[str], hours: Hours, settings: RotaSettings) -> StandinCount:
    """The B岗 spell and year count if the person stands in on `day` too. `days` are their other stand-in days
    (signed in or rostered on a B岗 window). A spell runs over consecutive working days; a working day without a
    stand-in ends it (weekends and holidays do not). Only working days count (代岗时间按工作日计)."""
    marked = {d for d in days if is_working_day(date.fromisoformat(d), hours)}
    if is_working_day(day, hours):
        marked.add(day.isoformat())
    year = sum(1 for d in marked if d[:4] == str(day.year))
    run, d = 0, day
    for _ in range(400):
        if is_working_day(d, hours):
            if d.isoformat() not in marked:
                break
            run += 1
        d -= timedelta(days=1)
    # Days already planned after `day` extend the same spell.
    d = day + timedelta(days=1)
    for _ in range(400):
        if is_working_day(d, hours):
            if d.isoformat() not in marked:
                break
            run += 1
        d += timedelta(days=1)
    s = settings
    if run > s.standin_run_days or year > s.standin_year_days:
        verdict = "refuse"
        message = (f"B岗代岗超过上限：本次连续 {run} 个工作日（上限 {s.standin_run_days}），"
                   f"本年累计 {year} 个工作日（上限 {s.standin_year_days}）。")
    elif run > s.standin_run_days - s.standin_warn_days or year > s.standin_year_days - s.standin_warn_days:
        verdict = "warn"
        message = (f"B岗代岗接近上限：本次连续 {run}/{s.standin_run_days} 个工作日，"
                   f"本年累计 {year}/{s.standin_year_days} 个工作日。")
    else:
        verdict, message = "ok", ""
    return StandinCount(run, year, verdict, message)


_RANK = {"ok": 0, "warn": 1, "refuse": 2}


def check_planned_standins(duties: Sequence[tuple[str, Duty]], config: HallConfig,
                           history: Mapping[str, set[str]], settings: RotaSettings) -> list[str]:
    """A week's B岗 duties against the limits, counted with each person's recorded and other planned stand-in
    days (`history`, by staff id). Refuses past a limit; returns the warnings near one."""
    planned: dict[str, set[str]] = {}
    for day, duty in duties:
        staff = config.staff_member(duty.staff_id)
        if staff is not None and duty.window_id not in staff.windows:
            planned.setdefault(duty.staff_id, set()).add(day)
    warnings = []
    for staff_id, days in planned.items():
        name = config.staff_member(staff_id).name  # type: ignore[union-attr]
        all_days = history.get(staff_id, set()) | days
        worst: StandinCount | None = None
        for day in sorted(days):
            count = standin_count(date.fromisoformat(day), all_days, config.hours, settings)
            if worst is None or (_RANK[count.verdict], count.run + count.year) > (_RANK[worst.verdict],
                                                                                  worst.run + worst.year):
                worst = count
        if worst is not None and worst.verdict == "refuse":
            raise HallError("standin_limit", f"{name}：{worst.message}", 409)
        if worst is not None and worst.verdict == "warn":
            warnings.append(f"{name}：{worst.message}")
    return warnings


def standin_sign_in(staff_name: str, day: date, recorded: Iterable[str], hours: Hours,
                    settings: RotaSettings) -> StandinCount:
    """A B岗 sign-in on `day`: refused past a limit (403 `standin_limit`), else its count (a warning near one)."""
    count = standin_count(day, recorded, hours, settings)
    if count.verdict == "refuse":
        raise HallError("standin_limit", f"{staff_name}{count.message}请安排其他人员或由派驻部门调整A岗。", 403)
    return count
