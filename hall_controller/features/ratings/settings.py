"""The `[ratings]` section: online rating window, 差评 reasons, comment length, and the working-day deadlines
of 差评 cases and complaints."""

from __future__ import annotations

from hall_controller import config_loader as config
from hall_controller.core.settings import HallConfig
from hall_controller.features.ratings.rules import DEFAULT_REASONS, RatingRules

_KEYS = ("online_days", "reasons", "comment_max", "verify_days", "appeal_days", "rectify_days", "reply_days",
         "close_days", "complaint_days", "complaint_complex_days", "check_seconds")


def parse(table: config.Table, core: HallConfig) -> RatingRules:
    t = config.Table(table.source, table.path, table.data, _KEYS)
    reasons = config.code_labels(t, "reasons", DEFAULT_REASONS, "差评 reason", "差评原因")
    days = {k: t.integer(k, getattr(RatingRules, k), low=0, high=60) for k in (
        "verify_days", "appeal_days", "rectify_days", "reply_days", "close_days", "complaint_days",
        "complaint_complex_days")}
    if days["complaint_complex_days"] < days["complaint_days"]:
        t.fail("complaint_complex_days", f"must be at least complaint_days ({days['complaint_days']})")
    return RatingRules(
        online_days=t.integer("online_days", RatingRules.online_days, low=0, high=365),
        reasons=reasons,
        comment_max=t.integer("comment_max", RatingRules.comment_max, low=0, high=5000),
        check_seconds=t.number("check_seconds", RatingRules.check_seconds, positive=True, high=3600),
        **days,
    )


def rules(cfg: HallConfig) -> RatingRules:
    """The hall's rating rules; halls built in code without the section get the defaults."""
    return cfg.sections.get("ratings") or RatingRules()


