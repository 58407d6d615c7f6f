"""The `[day]` section: closing policy, how often the day is checked, attendance grace periods."""

from __future__ import annotations

from hall_controller import config_loader as cfg
from hall_controller.core.settings import HallConfig
from hall_controller.features.day import rules


def parse(t: cfg.Table, core: HallConfig) -> rules.DaySettings:
    t = cfg.Table(t.source, t.path, t.data, ("closing_policy", "check_seconds", "close_after_minutes",
                                             "late_grace_minutes", "early_grace_minutes", "absent_after_minutes"))
    d = rules.DaySettings()
    policy = t.text("closing_policy", d.closing_policy)
    if policy not in rules.CLOSING_POLICIES:
        t.fail("closing_policy", f'must be one of {", ".join(rules.CLOSING_POLICIES)}, got "{policy}"')
    late = t.integer("late_grace_minutes", d.late_grace_minutes, low=0, high=120)
    absent = t.integer("absent_after_minutes", d.absent_after_minutes, low=1, high=480)
    if absent <= late:
        t.fail("absent_after_minutes", f"({absent}) must be greater than late_grace_minutes ({late})")
    return rules.DaySettings(
        closing_policy=policy,
        check_seconds=t.integer("check_seconds", d.check_seconds, low=1, high=3600),
        close_after_minutes=t.integer("close_after_minutes", d.close_after_minutes, low=0, high=600),
        late_grace_minutes=late,
        early_grace_minutes=t.integer("early_grace_minutes", d.early_grace_minutes, low=0, high=120),
        absent_after_minutes=absent,
    )




def settings_of(config: HallConfig) -> rules.DaySettings:
    return config.sections.get("day") or rules.DaySettings()
