"""督查 over HTTP (managers): 整改率 and 回复率, the causes of 差评, the monthly 效能 return and 考核, as JSON with
server-made charts, CSV and XLSX (each download recorded as `report.exported`); the 考核 notes; the page."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.features.reports.api import day_param, download, month_param
from hall_controller.features.supervision import pages
from hall_controller.features.supervision import service as sup
from hall_controller.features.supervision.efficiency import COLUMNS as EFFICIENCY_COLUMNS
from hall_controller.http.auth import require_manager, service_of

router = APIRouter(prefix="/api/supervision")
Manager = Annotated[str, Depends(require_manager)]
Period = Literal["day", "week", "month"]
Group = Literal["all", "window", "staff", "service"]
Format = Literal["csv", "xlsx"]
DateText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
MonthText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]

ASSESSMENT_COLUMNS = (("staff_id", "工号", "text"), ("name", "姓名", "text"), ("unit", "单位", "text"),
                      ("served", "办结量", "int"), ("added", "加分", "minutes"), ("deducted", "扣分", "minutes"),
                      ("score", "得分", "minutes"), ("grade", "等次", "text"))
EVIDENCE_COLUMNS = (("staff_id", "工号", "text"), ("name", "姓名", "text"), ("label", "考核依据", "text"),
                    ("points", "分值", "minutes"), ("state", "状态", "text"), ("ref", "编号", "text"),
                    ("at", "日期", "text"))


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]
    staff_id: Annotated[str, Field(max_length=64)]
    points: Annotated[float, Field(ge=-50, le=50)] = 0
    note: Annotated[str, Field(max_length=500)]
    voids: Annotated[str, Field(max_length=120)] | None = None


@router.get("/rectification")
async def get_rectification(request: Request, _: Manager, period: Period = "month", date: DateText = None,
                            by: Group = "all") -> dict[str, Any]:
    svc = service_of(request)
    r = sup.rectification_report(svc, period, day_param(svc, date), by)
    r["chart"] = sup.rectification_chart(r)
    return r


@router.get("/rectification.{fmt}")
async def download_rectification(request: Request, manager: Manager, fmt: Format, period: Period = "month",
                                 date: DateText = None, by: Group = "all") -> Response:
    svc = service_of(request)
    day = day_param(svc, date)
    r = sup.rectification_report(svc, period, day, by)
    title = [r["hall"], f"差评整改与投诉答复{r['period_name']}", f"{r['start']} 至 {r['end']}", f"按{r['group_name']}"]
    return await svc.call(download, svc, manager, "rectification", {"period": period, "date": day.isoformat(), "group": by},
                          fmt, f"rectification-{period}-{day.isoformat()}-{by}", title,
                          [("整改与回复", r["columns"], [*r["rows"], r["total"]])])


@router.get("/causes")
async def get_causes(request: Request, _: Manager, period: Period = "month", date: DateText = None) -> dict[str, Any]:
    svc = service_of(request)
    r = sup.causes_report(svc, period, day_param(svc, date))
    r["charts"] = sup.causes_charts(r)
    return r


@router.get("/causes.{fmt}")
async def download_causes(request: Request, manager: Manager, fmt: Format, period: Period = "month",
                          date: DateText = None) -> Response:
    svc = service_of(request)
    day = day_param(svc, date)
    r = sup.causes_report(svc, period, day)
    title = [r["hall"], f"差评原因分析{r['period_name']}", f"{r['start']} 至 {r['end']}",
             f"上期 {r['previous']['start']} 至 {r['previous']['end']}"]
    return await svc.call(download, svc, manager, "causes", {"period": period, "date": day.isoformat()}, fmt,
                          f"causes-{period}-{day.isoformat()}", title, sup.causes_tables(r))


@router.get("/efficiency")
async def get_efficiency(request: Request, _: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    return sup.efficiency_report(svc, month_param(svc, month))


@router.get("/efficiency.{fmt}")
async def download_efficiency(request: Request, manager: Manager, fmt: Format, month: MonthText = None) -> Response:
    svc = service_of(request)
    m = month_param(svc, month)
    r = sup.efficiency_report(svc, m)
    title = [r["hall"], f"{m} 政务服务效能月报", f"办件量口径：{r['workload_source']}",
             f"超时：等候超过 {r['max_wait_minutes']:g} 分钟"]
    total = {**r["total"], "no": ""}
    return await svc.call(download, svc, manager, "efficiency", {"month": m}, fmt, f"efficiency-{m}", title,
                          [("按单位", EFFICIENCY_COLUMNS, [*r["departments"], total]),
                           ("按窗口", EFFICIENCY_COLUMNS, [*r["windows"], total])])


@router.get("/assessment")
async def get_assessment(request: Request, _: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    return sup.assessment_report(svc, month_param(svc, month))


@router.get("/assessment.{fmt}")
async def download_assessment(request: Request, manager: Manager, fmt: Format, month: MonthText = None) -> Response:
    svc = service_of(request)
    m = month_param(svc, month)
    r = sup.assessment_report(svc, m)
    evidence = [{"staff_id": s["staff_id"], "name": s["name"], **e, "state": "已撤销" if e["voided"] else "计入"}
                for s in r["staff"] for e in s["evidence"]]
    evidence += [{"staff_id": s["staff_id"], "name": s["name"], "label": f"管理人员批注：{n['note']}",
                  "points": n["points"], "state": f"撤销 {n['voids']}" if n["voids"] else "计入", "ref": n["id"],
                  "at": n["at"][:10]} for s in r["staff"] for n in s["notes"]]
    return await svc.call(download, svc, manager, "assessment", {"month": m}, fmt, f"assessment-{m}",
                          [r["hall"], f"{m} 窗口工作人员考核", f"基础分 {r['base']:g}，满分 {r['ceiling']:g}"],
                          [("考核汇总", ASSESSMENT_COLUMNS, r["staff"]), ("考核依据", EVIDENCE_COLUMNS, evidence)])


@router.post("/assessment/notes")
async def post_note(request: Request, body: Note, by: Manager) -> dict[str, Any]:
    svc = service_of(request)
    return await svc.call(sup.add_note, svc, month_param(svc, body.month), body.staff_id, body.points, body.note,
                          body.voids, by)


def install(app: FastAPI) -> None:
    app.include_router(router)
    pages.install(app)
