"""Which waiting ticket a window calls next, and why.

Order of the rules, strongest first:
1. Ageing: a ticket that has waited past the hall's maximum is called before anything else the window
   may serve (oldest first), so nothing starves while an eligible window calls others.
2. Fairness, by `queue.fairness`:
   - "head_start" (the default): a priority ticket counts as having waited `priority_head_start_minutes`
     (H) more than it has. The window calls the most urgent ticket: a normal ticket's urgency is its
     waited time × the window's weight for its category (分类综合 weights; 1 for 全面综合), a priority
     ticket's its waited time + H, ties to the better class rank. The bounds, at a window of weight 1:
     a normal ticket is overtaken only by priority tickets issued less than H after it (once it has
     waited H, no priority ticket that comes later goes first), and a priority ticket waits only for
     normal tickets issued more than H before it. Both are proven by tests/core/test_routing_properties.py.
   - "ratio": priority classes go first, but at most `priority_ratio` priority calls in a row while a
     normal ticket waits for this window; then a normal ticket is called.
   - "strict": priority classes always go first (no bound for normal tickets but ageing).
3. Within a kind: priority tickets by class rank, then by queue time; normal tickets by waited time × weight,
   which is first-come-first-served within a category.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from hall_controller.core.model import Ticket
from hall_controller.core.queues import CategoryQueue
from hall_controller.core.settings import HallConfig, Window


@dataclass(frozen=True)
class Choice:
    ticket: Ticket
    reason: str  # short Chinese "why this ticket", recorded with the call
    streak: int  # the window's new priority streak


def window_weights(window: Window, override: dict[str, float] | None, config: HallConfig) -> dict[str, float]:
    """Categories a window serves, with weights. Special windows serve their listed services instead."""
    if override is not None:
        return override
    if window.mode == "comprehensive":
        return {c.id: 1.0 for c in config.categories if c.general}
    return dict(window.weights)


def may_serve(window: Window, weights: dict[str, float], ticket: Ticket, config: HallConfig) -> bool:
    return serves(window, weights, ticket.service_id, ticket.category_id, ticket.target_window_id, config)


def serves(window: Window, weights: Mapping[str, float], service_id: str, category_id: str,
           target_window_id: str | None, config: HallConfig) -> bool:
    """The rule of may_serve on a ticket's fields alone, for callers that replay tickets from events."""
    if target_window_id is not None:
        return target_window_id == window.id
    if category_id in weights:
        return True
    # A special window serves its listed services in their own category; a ticket transferred to another
    # category has joined that category's queue and is no longer the special window's.
    service = config.service(service_id)
    return service_id in window.services and service is not None and service.category_id == category_id


def special_categories(window: Window, weights: Mapping[str, float], config: HallConfig) -> set[str]:
    """Categories of which the window serves only some services (its listed ones: a special window)."""
    return {s.category_id for s in config.services if s.id in window.services} - set(weights)


def candidates(queues: Mapping[str, CategoryQueue], window: Window, weights: Mapping[str, float],
               config: HallConfig, by_service: set[str] | None = None) -> list[Ticket]:
    """The waiting tickets `choose` could pick for this window: the heads of its queues, not the whole hall.
    by_service: `special_categories` of the window, when the caller has them."""
    if by_service is None:
        by_service = special_categories(window, weights, config)
    out: list[Ticket] = []
    for cat, queue in queues.items():
        if cat in weights:
            out.extend(queue.candidates())
        elif cat in by_service:  # a special window serves some services of this category
            out.extend(t for t in (*queue.targeted.values(), *queue.priorities.values())
                       if serves(window, weights, t.service_id, t.category_id, t.target_window_id, config))
            # Normals are in queue order and weigh alike here, so only the first it may serve can be chosen.
            out.extend(islice((t for t in queue.normals
                               if serves(window, weights, t.service_id, t.category_id, t.target_window_id, config)), 1))
        else:
            out.extend(t for t in queue.targeted.values() if t.target_window_id == window.id)
    return [t for t in out if serves(window, weights, t.service_id, t.category_id, t.target_window_id, config)]


def choose(
    window: Window,
    weights: dict[str, float],
    streak: int,
    waiting: Iterable[Ticket],
    now: datetime,
    config: HallConfig,
) -> Choice | None:
    rules = config.queue
    eligible = [t for t in waiting if may_serve(window, weights, t, config)]
    if not eligible:
        return None
    max_wait_s = rules.max_wait_minutes * 60
    normals = [t for t in eligible if t.priority is None]
    priorities = [t for t in eligible if t.priority is not None]

    overdue = [t for t in eligible if (now - t.queue_at).total_seconds() >= max_wait_s]
    if overdue:
        t = min(overdue, key=lambda t: (t.queue_at, t.seq))
        reason = f"已等候{_minutes(now, t)}分钟，超过最长等候{rules.max_wait_minutes:g}分钟"
        return Choice(t, reason, _next_streak(t, streak, normals))

    if rules.fairness == "head_start":
        return _head_start(weights, streak, eligible, normals, priorities, now, config)

    if priorities and not (rules.fairness == "ratio" and normals and streak >= rules.priority_ratio):
        t = min(priorities, key=lambda t: (_rank(config, t.priority), t.queue_at, t.seq))
        return Choice(t, _priority_reason(config, t, now), _next_streak(t, streak, normals))

    t = max(normals, key=lambda t: ((now - t.queue_at).total_seconds() * _weight(weights, t), -t.seq))
    if priorities:
        return Choice(t, f"公平规则：已连续叫{streak}个优先号，轮到普通号", 0)
    return Choice(t, _normal_reason(config, weights, normals, t, now), 0)


def urgency(t: Ticket, weights: Mapping[str, float], now: datetime, head_start_s: float) -> float:
    """"head_start": a normal ticket's waited seconds × its category's weight; a priority ticket's + H."""
    waited = (now - t.queue_at).total_seconds()
    return waited + head_start_s if t.priority is not None else waited * _weight(weights, t)


def _head_start(weights: Mapping[str, float], streak: int, eligible: list[Ticket], normals: list[Ticket],
                priorities: list[Ticket], now: datetime, config: HallConfig) -> Choice:
    head = config.queue.priority_head_start_minutes
    t = max(eligible, key=lambda t: (urgency(t, weights, now, head * 60), -_rank(config, t.priority),
                                     -t.queue_at.timestamp(), -t.seq))
    if t.priority is not None:
        reason = _priority_reason(config, t, now)
        if normals:
            reason += f"（优先提前{head:g}分钟计）"
    elif priorities:
        reason = f"公平规则：已等候{_minutes(now, t)}分钟，比等候的优先号早到{head:g}分钟以上"
    else:
        reason = _normal_reason(config, weights, normals, t, now)
    return Choice(t, reason, _next_streak(t, streak, normals))


def _priority_reason(config: HallConfig, t: Ticket, now: datetime) -> str:
    cls = config.priority(t.priority)
    return f"优先：{cls.name if cls else t.priority}，已等候{_minutes(now, t)}分钟"


def _normal_reason(config: HallConfig, weights: Mapping[str, float], normals: list[Ticket], t: Ticket,
                   now: datetime) -> str:
    cat = config.category(t.category_id)
    reason = f"{cat.name if cat else t.category_id}等候最久（{_minutes(now, t)}分钟）"
    if len({x.category_id for x in normals}) > 1 and _weight(weights, t) != 1.0:
        reason += f"，本窗口权重{_weight(weights, t):g}"
    return reason


def _next_streak(t: Ticket, streak: int, normals: list[Ticket]) -> int:
    if t.priority is None or not normals:
        return 0
    return streak + 1


def _weight(weights: Mapping[str, float], t: Ticket) -> float:
    return weights.get(t.category_id, 1.0)


def _rank(config: HallConfig, priority: str | None) -> int:
    cls = config.priority(priority) if priority else None
    return cls.rank if cls else 1_000


def _minutes(now: datetime, t: Ticket) -> int:
    return max(0, int((now - t.queue_at).total_seconds() // 60))
