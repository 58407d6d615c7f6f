"""The `[supervision]` section: the 考核 scoring rules (`[supervision.assessment]`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hall_controller import config_loader as config
from hall_controller.core.settings import HallConfig
from hall_controller.features.supervision.assessment import AssessmentRules

_POINTS = ("valid_bad", "overdue_case", "complaint", "late", "early", "absent_session", "forgotten_sign_out")


@dataclass(frozen=True)
class SupervisionSettings:
    assessment: AssessmentRules = field(default_factory=AssessmentRules)


def parse(table: config.Table, core: HallConfig) -> SupervisionSettings:
    t = config.Table(table.source, table.path, table.data, ("assessment",))
    if "assessment" not in t.data:
        return SupervisionSettings()
    a = config.Table(t.source, t.at("assessment"), t.data["assessment"],
                     ("base", "ceiling", "floor", "per_level", *_POINTS, "served_per_point", "workload_max", "grades"))
    d = AssessmentRules()

    def points(key: str, default: float) -> float:
        return points_of(a, key, a.raw(key, default))

    base = points("base", d.base)
    ceiling = a.number("ceiling", d.ceiling, positive=True, high=1000)
    floor = points("floor", d.floor)
    if not floor <= base <= ceiling:
        a.fail("base", f"({base:g}) must lie between floor ({floor:g}) and ceiling ({ceiling:g})")
    per_level = a.items("per_level", list(d.per_level))
    if len(per_level) != 5:
        a.fail("per_level", "must list the points of the five levels, 非常满意 first")
    levels = tuple(points_of(a, f"per_level[{i}]", v) for i, v in enumerate(per_level))
    grades = d.grades
    if "grades" in a.data:
        found = a.tables("grades", ("min", "name"))
        if not found:
            a.fail("grades", "must list at least one grade")
        grades = tuple((g.number("min", 0, positive=False, high=1000), g.text("name")) for g in found)
        if [g[0] for g in grades] != sorted((g[0] for g in grades), reverse=True):
            a.fail("grades", "must be listed from the highest minimum down")
    return SupervisionSettings(AssessmentRules(
        base=base, ceiling=ceiling, floor=floor, per_level=levels,  # type: ignore[arg-type]
        **{k: points(k, getattr(d, k)) for k in _POINTS},
        served_per_point=a.integer("served_per_point", d.served_per_point, low=0, high=10_000),
        workload_max=a.number("workload_max", d.workload_max, positive=False, high=100),
        grades=grades,
    ))


def points_of(table: config.Table, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > 100:
        table.fail(key, f"must be a number of points between -100 and 100, got {value!r}")
    return float(value)


def settings_of(cfg: HallConfig) -> SupervisionSettings:
    return cfg.sections.get("supervision") or SupervisionSettings()
